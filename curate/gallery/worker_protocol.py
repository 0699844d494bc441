"""The model worker's protocol, shared by the server side (:mod:`.model_worker`) and the work
done in the worker (:mod:`.model_ops`): the error it answers with and the framing of a message.

Its own module so that neither side imports the other for it (model_ops used to import
model_worker for ``WorkerError`` while model_worker imported model_ops, and the worker ran
itself as ``__main__`` and imported itself again to share one ``WorkerError`` class).

- ``WorkerError(kind, message)``: kind ``checkpoint`` (refused or unreadable), ``bad_image``
  (an upload that is not an image), ``input`` (a bad request), ``failed`` (anything else).
- A message is one JSON header line, ``{..., "blobs": [n1, n2, ...]}``, then the raw byte blobs
  it announces: no pickle crosses the boundary.
"""
from __future__ import annotations

import json


class WorkerError(RuntimeError):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# --- framing: a JSON header line, then the blobs it announces --------------------------------
def write_message(stream, header: dict, blobs=()) -> None:
    blobs = [bytes(b) for b in blobs]
    stream.write(json.dumps(dict(header, blobs=[len(b) for b in blobs])).encode() + b"\n")
    for b in blobs:
        stream.write(b)
    stream.flush()


def read_message(stream) -> tuple[dict, list[bytes]] | None:
    """(header, blobs), or None at the end of the stream."""
    line = stream.readline()
    if not line:
        return None
    header = json.loads(line)
    blobs = []
    for n in header.pop("blobs", []):
        data = stream.read(n)
        if len(data) != n:
            return None
        blobs.append(data)
    return header, blobs
