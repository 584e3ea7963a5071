"""`nuisance-zoo train` (being written)."""


def register(sub) -> None:
    p = sub.add_parser("train", help="(not yet available)")
    p.set_defaults(func=lambda args: (_ for _ in ()).throw(RuntimeError("'train' is not available yet")))
