"""`nuisance-zoo fit` (being written)."""


def register(sub) -> None:
    p = sub.add_parser("fit", help="(not yet available)")
    p.set_defaults(func=lambda args: (_ for _ in ()).throw(RuntimeError("'fit' is not available yet")))
