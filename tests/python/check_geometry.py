"""Checks apd-extract --geometry against an independent float64 recomputation
of every instance's region radius and boundary distance, and against their
defining property.

  mlp APD RUN_DIR EPOCH     the paper's MLP of an apd-train run: the Jacobians by
                            numpy matrix products, J_l = W_l D_{l-1} J_{l-1}
  cnn APD MODELS_DIR [X]    make_geometry_models.py's Net (on X, default X.npy): every ReLU input's and
  strided APD MODELS_DIR    ... its Strided (on X_strided.npy), the same way: every ReLU input's and
                            max-pooling input's Jacobian by PyTorch's forward-mode
                            AD (torch.autograd.forward_ad, one input direction per
                            batch row), in float64, the windows and distances in numpy

  near MODELS_DIR N         writes X_near.npy: N points a little inside the decision
                            boundary (d < r), for the boundary's property test

Options: --layers 1,3 (the APD's --geometry-layers: radius over those layers only);
         --rtol R (default 1e-9; the APD's gradients in float32: 1e-5);
         --min-crossed K (at least K instances must have 1.01 d <= r)

Oracle (docs/geometry.md): r = min over ReLU inputs z of |z| / ||dz/dx|| and over
max-pooling windows of (v_m - v_q) / ||d(v_m - v_q)/dx||, skipping constraints
whose gradient is exactly zero; d = min over j != k of (o_k - o_j) / ||grad||,
k the APD's predicted class. Every instance must agree to 1e-9 (relative).

Property (on 40 instances): moving x by 0.99 r towards the nearest constraint's
hyperplane keeps every ReLU pattern and max-pooling choice; 1.01 r changes one.
Where 1.01 d <= r: 0.99 d towards the decision hyperplane keeps the prediction,
1.01 d changes it.
"""
import json
import os
import sys

import numpy as np
import torch

RTOL = 1e-9  # --rtol changes it (--geometry-gradients float32: 1e-5)


def read_idx(path):
    raw = open(path, "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def distances(values, grads):
    """values [m], grads [m, D]: value / ||grad||, inf where the gradient is zero."""
    norms = np.sqrt((grads ** 2).sum(1))
    out = np.full(values.shape, np.inf)
    live = norms > 0
    out[live] = values[live] / norms[live]
    return out, norms


# ---------------------------------------------------------------- the MLP


class Mlp:
    def __init__(self, run_dir, epoch):
        state = torch.load(os.path.join(run_dir, "checkpoints", f"epoch-{epoch:04d}.pt"), map_location="cpu")
        if "model" in state:
            state = state["model"]
        keys = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith("weight")}, key=lambda k: int(k.split(".")[-1]))
        self.layers = [(state[k + ".weight"].double().numpy(), state[k + ".bias"].double().numpy()) for k in keys]
        info = json.load(open(os.path.join(run_dir, "run.json")))
        images = read_idx(os.path.join(info["data"]["dataset"]["dir"], "train-images-idx3-ubyte"))
        x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
        if info["data"]["normalize"] == "standard":
            x = (x - np.float32(0.1307)) / np.float32(0.3081)
        self.x = x.astype(np.float64)

    def input(self, index):
        return self.x[index]

    def constraints(self, x):
        """[(layer, value, grad)] of every ReLU neuron; the logits and their Jacobian; the pattern."""
        out, jac, pattern = [], np.eye(len(x)), []
        a = x
        for layer, (w, b) in enumerate(self.layers[:-1], start=1):
            z = w @ a + b
            jac = w @ jac
            out += [(layer, abs(z[i]), jac[i], np.sign(z[i])) for i in range(len(z))]
            on = z > 0
            pattern.append(on)
            a = np.where(on, z, 0.0)
            jac = jac * on[:, None]
        w, b = self.layers[-1]
        return out, w @ a + b, w @ jac, pattern


# ---------------------------------------------------------------- the CNN


class Cnn:
    def __init__(self, models_dir, data="X.npy", name="cnn"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from make_geometry_models import Net, Strided

        self.net = {"cnn": Net, "strided": Strided}[name]()
        self.net.load_state_dict(torch.load(os.path.join(models_dir, f"{name}_state.pt")))
        self.net.eval().double()
        self.x = np.load(os.path.join(models_dir, data)).astype(np.float64)

    def input(self, index):
        return self.x[index].reshape(-1)

    def taps(self, flat):
        t = self.net.taps(flat.reshape(1, *self.x.shape[1:]))
        return t["relu"], t["pool"], t["logits"][0]

    def constraints(self, x):
        xt = torch.from_numpy(x)
        with torch.no_grad():
            relus, pools, logits = self.taps(xt)
        sizes = [z.numel() for z in relus] + [p[0].numel() for p in pools]
        # Forward-mode AD (PyTorch's own derivative formulas), one input direction per batch row.
        d = len(x)
        import torch.autograd.forward_ad as fwAD
        with torch.no_grad(), fwAD.dual_level():
            dual = fwAD.make_dual(xt.expand(d, d).reshape(d, *self.x.shape[1:]).clone(),
                                  torch.eye(d, dtype=torch.float64).reshape(d, *self.x.shape[1:]))
            t = self.net.taps(dual)
            tangents = [fwAD.unpack_dual(z).tangent.reshape(d, -1) for z in t["relu"]]
            tangents += [fwAD.unpack_dual(p[0]).tangent.reshape(d, -1) for p in t["pool"]]
            jac = torch.cat(tangents, 1).T.numpy()
            jac_logits = fwAD.unpack_dual(t["logits"]).tangent.T.numpy()
        parts = np.split(jac, np.cumsum(sizes)[:-1])
        out, pattern = [], []
        for layer, (z, g) in enumerate(zip(relus, parts), start=1):
            z = z.flatten().numpy()
            out += [(layer, abs(z[i]), g[i], np.sign(z[i])) for i in range(len(z))]
            pattern.append(z > 0)
        for (v, k, s, p), g in zip(pools, parts[len(relus):]):
            cons, choice = pool_constraints(v[0].numpy(), g.reshape(*v.shape[1:], -1), k, s, p)
            out += cons
            pattern.append(choice)
        return out, logits.numpy(), jac_logits, pattern


def pool_constraints(v, g, k, s, p):
    """Max-pooling windows of v [C, H, W] (gradients g [C, H, W, D]): (v_m - v_q, grad) per other input q."""
    c, h, w = v.shape
    vp = np.full((c, h + 2 * p, w + 2 * p), -np.inf)
    vp[:, p:p + h, p:p + w] = v
    gp = np.zeros((c, h + 2 * p, w + 2 * p, g.shape[-1]))
    gp[:, p:p + h, p:p + w] = g
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out, choice = [], []
    for ch in range(c):
        for i in range(ho):
            for j in range(wo):
                win = vp[ch, i * s:i * s + k, j * s:j * s + k].reshape(-1)
                gw = gp[ch, i * s:i * s + k, j * s:j * s + k].reshape(k * k, -1)
                m = int(np.argmax(win))  # the first maximum, as PyTorch takes it
                choice.append(m)
                for q in range(k * k):
                    if q != m and np.isfinite(win[q]):
                        out.append((0, win[m] - win[q], gw[m] - gw[q], 1.0))
    return out, np.array(choice)


# ---------------------------------------------------------------- checks


def oracle(model, x, predicted, layers):
    cons, logits, jac_logits, pattern = model.constraints(x)
    kept = [c for c in cons if (c[0] in layers if layers else True)]
    values = np.array([c[1] for c in kept])
    grads = np.array([c[2] for c in kept])
    dist, _ = distances(values, grads)
    nearest = int(np.argmin(dist))
    margins = logits[predicted] - logits
    gdiff = jac_logits[predicted][None, :] - jac_logits
    bd, _ = distances(margins, gdiff)
    bd[predicted] = np.inf
    j = int(np.argmin(bd))
    return {"r": dist[nearest], "d": max(bd[j], 0.0), "normal": -kept[nearest][3] * kept[nearest][2],
            "decision": -gdiff[j], "pattern": pattern, "logits": logits}


def close(a, b):
    if a is None:
        return np.isinf(b)
    return abs(a - b) <= RTOL * max(abs(b), 1e-300)


def same_pattern(p, q):
    return all(np.array_equal(a, b) for a, b in zip(p, q))


def near_boundary(models_dir, count):
    """Writes X_near.npy / y_near.npy: points within 0.3 r of the decision boundary
    (found by bisection between instances predicted differently), so that d < r."""
    model = Cnn(models_dir)
    x = model.x.reshape(len(model.x), -1)

    def predicted(v):
        with torch.no_grad():
            return int(torch.argmax(model.net(torch.from_numpy(v).reshape(1, *model.x.shape[1:]))))

    classes = [predicted(v) for v in x[:60]]
    points = []
    for a in range(len(classes)):
        for b in range(a + 1, len(classes)):
            if len(points) == count:
                break
            if classes[a] == classes[b]:
                continue
            lo, hi = 0.0, 1.0
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if predicted((1 - mid) * x[a] + mid * x[b]) == classes[a] else (lo, mid)
            side = (1 - lo) * x[a] + lo * x[b]
            r = oracle(model, side, classes[a], [])["r"]
            step = x[b] - x[a]
            point = (side - 0.3 * r * step / np.linalg.norm(step)).astype(np.float32)
            if predicted(point.astype(np.float64)) == classes[a]:
                points.append(point)
    np.save(os.path.join(models_dir, "X_near.npy"), np.array(points).reshape(-1, *model.x.shape[1:]))
    np.save(os.path.join(models_dir, "y_near.npy"), np.zeros(len(points), np.int64))
    print(f"{len(points)} points near the decision boundary")


def main():
    args = sys.argv[1:]
    if args[0] == "near":
        return near_boundary(args[1], int(args[2]))
    global RTOL
    layers, min_crossed = [], 0
    if "--rtol" in args:
        at = args.index("--rtol")
        RTOL = float(args[at + 1])
        del args[at:at + 2]
    if "--min-crossed" in args:
        at = args.index("--min-crossed")
        min_crossed = int(args[at + 1])
        del args[at:at + 2]
    if "--layers" in args:
        at = args.index("--layers")
        layers = [int(v) for v in args[at + 1].split(",")]
        del args[at:at + 2]
    kind, apd_path = args[0], args[1]
    if kind == "mlp":
        model = Mlp(args[2], int(args[3]))
    elif kind == "strided":
        model = Cnn(args[2], "X_strided.npy", "strided")
    else:
        model = Cnn(args[2], args[3] if len(args) > 3 else "X.npy")
    apd = json.load(open(apd_path))
    assert apd["graph"]["geometry"]["arithmetic"] == "float64"
    instances = apd["instances"]
    bad, probed, crossed = 0, 0, 0
    for n, record in enumerate(instances):
        x = model.input(record["index"])
        o = oracle(model, x, record["predicted"], layers)
        if not (close(record["region_radius"], o["r"]) and close(record["boundary_distance"], o["d"])):
            bad += 1
            if bad <= 5:
                print(f"instance {record['index']}: file r={record['region_radius']} d={record['boundary_distance']}, "
                      f"oracle r={o['r']!r} d={o['d']!r}")
        if n >= 40 or layers or int(np.argmax(o["logits"])) != record["predicted"]:
            continue
        probed += 1
        r, d = record["region_radius"], record["boundary_distance"]
        unit = o["normal"] / np.linalg.norm(o["normal"])
        inside = model.constraints(x + 0.99 * r * unit)[3]
        outside = model.constraints(x + 1.01 * r * unit)[3]
        assert same_pattern(inside, o["pattern"]), f"instance {record['index']}: 0.99 r changed the pattern"
        assert not same_pattern(outside, o["pattern"]), f"instance {record['index']}: 1.01 r kept the pattern"
        if 1.01 * d <= r:
            crossed += 1
            unit = o["decision"] / np.linalg.norm(o["decision"])
            near = model.constraints(x + 0.99 * d * unit)[1]
            far = model.constraints(x + 1.01 * d * unit)[1]
            assert int(np.argmax(near)) == record["predicted"], f"instance {record['index']}: 0.99 d changed the class"
            assert int(np.argmax(far)) != record["predicted"], f"instance {record['index']}: 1.01 d kept the class"
    assert bad == 0, f"{bad} of {len(instances)} instances differ from the float64 oracle"
    assert probed >= 10 or layers, f"only {probed} instances probed"
    assert crossed >= min_crossed, f"only {crossed} instances with 1.01 d <= r, {min_crossed} wanted"
    print(f"ok: {len(instances)} instances equal the float64 oracle (rtol {RTOL:g}); "
          f"0.99r/1.01r on {probed}, 0.99d/1.01d on {crossed}")


if __name__ == "__main__":
    main()
