"""torch.optim.Adam on given gradients: the expected values of models/tests/suite/adam.rs.

    python adam_check.py CASE.json

CASE.json: {"lr", "beta1", "beta2", "eps", "init": {name: [values]}, "shapes": {name: shape},
"steps": [{"lr": lr, "grads": {name: [values]}}]}; a variable missing from a step's "grads"
has no gradient at that step (PyTorch skips it, as ours must). Prints JSON: for each variable
its final values and Adam's state ("exp_avg", "exp_avg_sq"; null if never stepped), all float32.
The comparison is done by the Rust test, so that this script cannot pass by itself.
"""
import json
import sys

import torch

case = json.load(open(sys.argv[1]))
params = {
    n: torch.tensor(v, dtype=torch.float32).reshape(case["shapes"][n]).requires_grad_()
    for n, v in case["init"].items()
}
opt = torch.optim.Adam(
    list(params.values()),
    lr=case["lr"],
    betas=(case["beta1"], case["beta2"]),
    eps=case["eps"],
)
for step in case["steps"]:
    for g in opt.param_groups:
        g["lr"] = step["lr"]
    for n, p in params.items():
        grad = step["grads"].get(n)
        p.grad = None if grad is None else torch.tensor(grad, dtype=torch.float32).reshape(p.shape)
    opt.step()
out = {}
for n, p in params.items():
    st = opt.state.get(p, {})
    out[n] = {
        "value": p.detach().flatten().tolist(),
        "exp_avg": st["exp_avg"].flatten().tolist() if st else None,
        "exp_avg_sq": st["exp_avg_sq"].flatten().tolist() if st else None,
    }
print(json.dumps(out))
