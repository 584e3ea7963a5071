"""(being written) CURE-TSR challenge levels -> regions of Δ."""
CURE_TSR_LEVELS: dict = {}


def challenge_delta(*args, **kwargs):
    raise NotImplementedError
