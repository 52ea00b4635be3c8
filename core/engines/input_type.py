"""What texts sent for embedding are for: shared by embeddings engines and the services engines
call (a leaf module, so neither has to import the other)."""

from __future__ import annotations

from typing import Literal

#: What the texts are for. Asymmetric models (e5, bge, nomic...) embed a search question and the
#: passages it should find differently; ``None`` leaves it to the engine's own default.
InputType = Literal["query", "document"]
