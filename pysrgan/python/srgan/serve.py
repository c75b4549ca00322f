"""Online upscaling on Ray Serve: POST an image (PNG, JPEG, WebP, TIFF, BMP or GIF bytes),
get the upscaled PNG back.

    from ray import serve
    from srgan.serve import app
    serve.run(app(model="models/x4/srresnet_x4.onnx"), route_prefix="/upscale")
    # curl --data-binary @photo.jpg http://127.0.0.1:8000/upscale -o photo_x4.png

- Bounded work per replica: at most `max_ongoing_requests` requests are inside a replica at
  once (Serve queues the rest, and answers 503 once `max_queued_requests` wait), the model
  runs one image at a time (one `srgan.Upscaler`), and an image is tiled so that the
  model's memory stays under `max_memory_mib`; bodies over `max_request_bytes` and images
  whose output is over `max_output_pixels` are refused before any work.
- Status codes: 200 with the PNG; 400 for an empty body or an image that does not decode
  (the body says why, in srgan-run's words); 408 for a body that does not arrive within
  `body_timeout_s` (a slow client never holds a request slot for long); 413 for a body or
  an output over the limits (an image's declared size is checked before it is decoded);
  500 only for a failure of the model itself. A bad request never stops the replica.
- The response's bytes are those `srgan-run -i image -o out.png` writes.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from ray import serve
from starlette.requests import Request
from starlette.responses import Response

import srgan

DEFAULT_MAX_REQUEST_BYTES = 32 << 20
DEFAULT_MAX_OUTPUT_PIXELS = 64 << 20


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain")


class Upscale:
    """The deployment's class (wrapped by `serve.deployment` in `deployment()`)."""

    def __init__(
        self,
        model: Optional[str] = None,
        runtime: str = "ort",
        threads: int = 1,
        tile: Any = "auto",
        max_memory_mib: int = 1024,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
        body_timeout_s: float = 30.0,
    ) -> None:
        self.upscaler = srgan.Upscaler(
            model,
            runtime=runtime,
            threads=threads,
            tile=tile,
            max_memory_mib=max_memory_mib,
            max_output_pixels=max_output_pixels,
        )
        self.max_request_bytes = max_request_bytes
        self.body_timeout_s = body_timeout_s

    async def _body(self, request: Request) -> Optional[bytes]:
        """The body, or None once it is over the limit (read no further). Raises
        TimeoutError when it does not arrive within `body_timeout_s` (a slow client would
        otherwise hold one of the replica's request slots)."""
        return await asyncio.wait_for(self._read(request), self.body_timeout_s)

    async def _read(self, request: Request) -> Optional[bytes]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_request_bytes:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_request_bytes:
                return None
        return bytes(body)

    async def __call__(self, request: Request) -> Response:
        if request.method != "POST":
            return _text(405, "POST the image's bytes")
        try:
            body = await self._body(request)
        except (asyncio.TimeoutError, TimeoutError):
            return _text(408, f"the request body did not arrive within {self.body_timeout_s} s")
        if body is None:
            return _text(413, f"the request is over {self.max_request_bytes} bytes")
        if not body:
            return _text(400, "empty request: POST the image's bytes")
        try:
            # The Upscaler releases the GIL; the event loop keeps serving meanwhile.
            png = await asyncio.to_thread(
                self.upscaler.upscale_bytes, body, "png", "request"
            )
        except srgan.TooLargeError as e:
            return _text(413, str(e))
        except srgan.InputError as e:
            return _text(400, str(e))
        except srgan.SrganError as e:
            return _text(500, str(e))
        return Response(png, media_type="image/png")


def deployment(
    max_ongoing_requests: int = 2,
    max_queued_requests: int = 16,
    num_replicas: int = 1,
    num_cpus: float = 1,
):
    """The Serve deployment of `Upscale` with its bounds."""
    return serve.deployment(
        Upscale,
        name="srgan",
        max_ongoing_requests=max_ongoing_requests,
        max_queued_requests=max_queued_requests,
        num_replicas=num_replicas,
        ray_actor_options={"num_cpus": num_cpus},
    )


def app(model: Optional[str] = None, **kwargs: Any):
    """A bound application: `serve.run(app(model=...), route_prefix="/upscale")`. Keyword
    arguments go to `Upscale` (runtime, threads, tile, max_memory_mib, max_request_bytes,
    max_output_pixels)."""
    return deployment().bind(model=model, **kwargs)
