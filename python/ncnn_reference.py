"""ncnn's CPU engine in fp32, the way every script here runs Real-ESRGAN's original ncnn files
(scripts/check_community_weights.py, benches/peers/peers.py, tests/community_torch.py): no
Vulkan, fp16/bf16 storage, packing and arithmetic off, no int8; everything else (packing
layout, Winograd and sgemm convolutions) as ncnn's defaults.
"""


def fp32_net(param, binf, threads):
    """An `ncnn.Net` with `param` / `binf` loaded; raises ValueError naming them."""
    import ncnn

    net = ncnn.Net()
    o = net.opt
    o.use_vulkan_compute = False
    o.use_fp16_packed = False
    o.use_fp16_storage = False
    o.use_fp16_arithmetic = False
    o.use_bf16_storage = False
    o.use_int8_inference = False
    o.num_threads = threads
    if net.load_param(str(param)) != 0 or net.load_model(str(binf)) != 0:
        raise ValueError(f"ncnn could not load {param} / {binf}")
    return net
