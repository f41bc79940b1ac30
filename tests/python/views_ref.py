"""numpy's definitions of apd's pattern views (docs/views.md), the oracle of
tests/python/check_views.py and check_monitor.py. `bits` is bool [N, width]:
one row per instance, PyTorch's (relu_out > 0).flatten(1)."""
import numpy as np


def pool(bits, shape, k):
    """OR over k x k windows of each channel (edge windows smaller), c-major."""
    c, h, w = shape
    ho, wo = -(-h // k), -(-w // k)
    padded = np.zeros((len(bits), c, ho * k, wo * k), dtype=bool)
    padded[:, :, :h, :w] = bits.reshape(-1, c, h, w)
    return padded.reshape(-1, c, ho, k, wo, k).any(axis=(3, 5)).reshape(len(bits), -1)


def channel(bits, shape, share):
    """Bit c: the share of channel c's active positions is > share."""
    c, h, w = shape
    active = bits.reshape(-1, c, h * w).sum(axis=2)
    return active / float(h * w) > share


def top(bits, k):
    """The k neurons active closest to half the time (ties: lower index), ascending."""
    active = bits.sum(axis=0).astype(np.int64)
    distance = np.abs(2 * active - len(bits))
    order = np.lexsort((np.arange(bits.shape[1]), distance))
    return sorted(order[:k].tolist())


def apply(view, bits):
    """The view (a record of graph.views or a monitor layer's "view") of full patterns."""
    kind, arg, shape = view["kind"], view["arg"], view["shape"]
    bits = bits.astype(bool)
    if kind == "full":
        return bits
    if kind == "pool":
        return pool(bits, shape, arg)
    if kind == "channel":
        return channel(bits, shape, arg)
    if kind in ("top", "neurons"):
        return bits[:, view["neurons"]]
    raise AssertionError(kind)
