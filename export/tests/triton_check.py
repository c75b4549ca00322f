"""Checks Triton Inference Server model folders written by `srgan-export --triton-repo`.

Arguments: triples MODEL_DIR MAX_BATCH TENSORRT, where MAX_BATCH is the max_batch_size asked
for and TENSORRT is FP16, FP32 (the precision_mode of the TensorRT accelerator expected) or
none. For each folder:

- MODEL_DIR/config.pbtxt parses with `google.protobuf.text_format.Parse` into
  `tritonclient.grpc.model_config_pb2.ModelConfig` (an unknown field or a bad value fails:
  the file is checked against Triton's own schema), its name is the folder's and its platform
  `onnxruntime_onnx`;
- MODEL_DIR/1/model.onnx passes `onnx.checker.check_model(full_check=True)`;
- the configuration's inputs and outputs are the graph's, in order: names, data types, and
  dims (-1 where the graph's dimension is symbolic), without the batch dimension when
  max_batch_size > 0; max_batch_size > 0 (and equal to MAX_BATCH, with dynamic batching)
  exactly when the graph's batch dimension is symbolic and MAX_BATCH > 0;
- the TensorRT accelerator is there with the expected precision_mode (on GPU instances), or
  is absent.

Prints `ok MODEL_DIR ...` per folder; exits 1 with a message naming the folder otherwise.
Used by export/tests/export/triton.rs.
"""
import os
import sys

SETUP = (
    "run scripts/setup.sh (it installs requirements.txt, tritonclient[grpc] included, into "
    ".venv)"
)

try:
    import onnx
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2
except ImportError as e:  # ModuleNotFoundError included
    print(f"triton_check.py: ModuleNotFoundError: {e}: {SETUP}", file=sys.stderr)
    sys.exit(1)


class Failed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failed(msg)


TYPES = {
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.INT64: "TYPE_INT64",
}


def graph_tensors(values):
    """(name, Triton type, dims with -1 for symbolic, batch symbolic?) of graph values."""
    out = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        symbolic_batch = len(dims) >= 2 and dims[0] == -1
        out.append((v.name, TYPES.get(t.elem_type, f"onnx elem_type {t.elem_type}"), dims,
                    symbolic_batch))
    return out


def check(model_dir, max_batch, tensorrt):
    cfg_path = os.path.join(model_dir, "config.pbtxt")
    onnx_path = os.path.join(model_dir, "1", "model.onnx")
    with open(cfg_path, encoding="utf-8") as f:
        text = f.read()
    cfg = model_config_pb2.ModelConfig()
    try:
        text_format.Parse(text, cfg)
    except text_format.ParseError as e:
        raise Failed(f"{cfg_path} is not a Triton ModelConfig: {e}") from e
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model, full_check=True)

    name = os.path.basename(os.path.normpath(model_dir))
    expect(cfg.name == name, f"name {cfg.name!r}, folder {name!r}")
    expect(cfg.platform == "onnxruntime_onnx", f"platform {cfg.platform!r}")

    initializers = {i.name for i in model.graph.initializer}
    g_in = graph_tensors([v for v in model.graph.input if v.name not in initializers])
    g_out = graph_tensors(model.graph.output)
    batchable = all(t[3] for t in g_in + g_out) and len(g_in) > 0
    if batchable and max_batch > 0:
        expect(cfg.max_batch_size == max_batch,
               f"max_batch_size {cfg.max_batch_size}, expected {max_batch}")
        expect(cfg.HasField("dynamic_batching"), "max_batch_size > 0 without dynamic_batching")
    else:
        expect(cfg.max_batch_size == 0,
               f"max_batch_size {cfg.max_batch_size} but the graph's batch is "
               f"{'symbolic' if batchable else 'fixed'} and {max_batch} was asked for")
    batched = cfg.max_batch_size > 0

    for role, configured, graph in (("input", cfg.input, g_in), ("output", cfg.output, g_out)):
        expect(len(configured) == len(graph),
               f"{len(configured)} {role}s configured, the graph has {len(graph)}")
        for c, (g_name, g_type, g_dims, _) in zip(configured, graph):
            expect(c.name == g_name, f"{role} {c.name!r}, the graph's is {g_name!r}")
            c_type = model_config_pb2.DataType.Name(c.data_type)
            expect(c_type == g_type, f"{role} {c.name}: data_type {c_type}, the graph's {g_type}")
            want = g_dims[1:] if batched else g_dims
            expect(list(c.dims) == want,
                   f"{role} {c.name}: dims {list(c.dims)}, the graph's {g_dims} "
                   f"(max_batch_size {cfg.max_batch_size}) give {want}")

    expect(len(cfg.instance_group) >= 1, "no instance_group")
    kinds = [model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind) for g in cfg.instance_group]
    expect(all(k in ("KIND_GPU", "KIND_CPU") for k in kinds), f"instance kinds {kinds}")
    expect(all(g.count >= 1 for g in cfg.instance_group), "an instance count below 1")

    accel = cfg.optimization.execution_accelerators
    trt = [a for a in accel.gpu_execution_accelerator if a.name == "tensorrt"]
    if tensorrt == "none":
        expect(not trt, "a TensorRT accelerator that was not expected")
    else:
        expect(len(trt) == 1, f"no TensorRT accelerator (precision_mode {tensorrt} expected)")
        params = dict(trt[0].parameters)
        expect(params.get("precision_mode") == tensorrt,
               f"TensorRT precision_mode {params.get('precision_mode')!r}, expected {tensorrt!r}")
        ws = params.get("max_workspace_size_bytes", "")
        expect(ws.isdigit() and int(ws) > 0, f"TensorRT max_workspace_size_bytes {ws!r}")
        expect(kinds == ["KIND_GPU"] * len(kinds), f"TensorRT on instances {kinds}")

    shapes = ", ".join(f"{c.name} {list(c.dims)}" for c in list(cfg.input) + list(cfg.output))
    print(f"ok {model_dir}: max_batch_size {cfg.max_batch_size}, {shapes}, {kinds}, "
          f"tensorrt {tensorrt}")


def main(args):
    if not args or len(args) % 3:
        print("usage: triton_check.py (MODEL_DIR MAX_BATCH FP16|FP32|none)...", file=sys.stderr)
        sys.exit(2)
    failed = 0
    for model_dir, max_batch, tensorrt in zip(args[0::3], args[1::3], args[2::3]):
        try:
            check(model_dir, int(max_batch), tensorrt)
        except Exception as e:  # noqa: BLE001 - report every folder, then exit non-zero
            print(f"FAIL {model_dir}: {type(e).__name__}: {e}", file=sys.stderr)
            failed += 1
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
