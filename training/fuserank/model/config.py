"""Model hyperparameters: the `config.json` of a bundle (docs/model-format.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields

FORMAT = "fuserank-bundle"
FORMAT_VERSION = 2  # the version new bundles are written with (3 when they have a repeat head)
FORMAT_VERSIONS = (1, 2, 3)  # the versions that load (docs/model-format.md)
REPEAT_FORMAT_VERSION = 3  # format 2 plus the repeat head (docs/model-format.md "Repeat head")
REPEAT_RANK_BUCKETS = 16   # rows of repeat.rank: recency rank of a seen item among the distinct seen items
REPEAT_COUNT_BUCKETS = 8   # rows of repeat.count: how many events the item has (8 = 8 or more)

# Integer keys of config.json and their smallest allowed value.
_INT_MINIMUMS = {
    "d_model": 1, "n_heads": 1, "n_layers": 1, "d_ff": 1, "max_events": 1,
    "max_text_tokens": 0, "max_images": 0, "image_dim": 0, "num_items": 2,
    "num_event_types": 1, "text_vocab_size": 2, "num_time_buckets": 3,
}


class ConfigError(ValueError):
    """A config.json that is missing a key or holds an out-of-range value."""


@dataclass
class ModelConfig:
    """Every field of config.json (snake_case) plus the training-only `dropout`."""

    d_model: int = 64
    n_heads: int = 2
    n_layers: int = 2
    d_ff: int = 256
    max_events: int = 200
    max_text_tokens: int = 16
    max_images: int = 4
    image_dim: int = 32
    num_items: int = 2
    num_event_types: int = 7
    text_vocab_size: int = 2
    num_time_buckets: int = 34
    layer_norm_eps: float = 1e-5
    name: str = "default"
    version: str = "0"
    # 1, 2 or 3; docs/model-format.md "Versions" lists what 2 and 3 change (new bundles are 2, or
    # 3 when the model has the repeat head)
    format_version: int = FORMAT_VERSION
    # optional key, written only when true: the model was trained with each prediction's seen
    # items left out of its softmax, so their scores mean nothing; catalogue ranking then leaves
    # a request's seen items out whatever the request's own exclude_seen says
    exclude_seen: bool = False
    dropout: float = 0.0  # training only, never exported

    def __post_init__(self) -> None:
        self.validate()

    @property
    def has_repeat_head(self) -> bool:
        """Format 3: seen items get a learned score bonus (docs/model-format.md "Repeat head")."""
        return self.format_version >= REPEAT_FORMAT_VERSION

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def validate(self) -> None:
        """Raise ConfigError when a value is out of range."""
        for key, low in _INT_MINIMUMS.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"config key {key!r} must be an integer >= {low}, got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ConfigError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0 < eps < 1):
            raise ConfigError(f"config key 'layer_norm_eps' must be in (0, 1), got {eps!r}")
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("config key 'name' must be a non-empty string")
        if self.format_version not in FORMAT_VERSIONS or isinstance(self.format_version, bool):
            raise ConfigError(f"config 'format_version' must be one of {FORMAT_VERSIONS}, "
                              f"got {self.format_version!r}")
        if not isinstance(self.version, str):
            raise ConfigError("config key 'version' must be a string")
        if not isinstance(self.exclude_seen, bool):
            raise ConfigError(f"config key 'exclude_seen' must be true or false, got {self.exclude_seen!r}")
        if self.has_repeat_head and self.num_event_types > 64:
            raise ConfigError(f"format_version 3 takes at most 64 event types, got {self.num_event_types}")
        if not (0.0 <= self.dropout < 1.0):
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_json(self) -> dict:
        """The config.json object (without the training-only dropout)."""
        out = {"format": FORMAT, "format_version": self.format_version,
               "name": self.name, "version": self.version}
        for key in _INT_MINIMUMS:
            out[key] = getattr(self, key)
        out["layer_norm_eps"] = float(self.layer_norm_eps)
        if self.exclude_seen:
            out["exclude_seen"] = True
        return out

    @classmethod
    def from_json(cls, d: dict) -> "ModelConfig":
        """Parse a config.json object; unknown keys are ignored, a missing key is an error except
        the optional `exclude_seen` (default false)."""
        if d.get("format") != FORMAT:
            raise ConfigError(f"config 'format' must be {FORMAT!r}, got {d.get('format')!r}")
        optional = {"exclude_seen"}
        known = {f.name for f in fields(cls)} - {"dropout"}
        missing = sorted(k for k in known - optional if k not in d)
        if missing:
            raise ConfigError(f"config is missing keys: {', '.join(missing)}")
        kwargs = {k: d[k] for k in known if k in d}
        if isinstance(kwargs["layer_norm_eps"], int) and not isinstance(kwargs["layer_norm_eps"], bool):
            kwargs["layer_norm_eps"] = float(kwargs["layer_norm_eps"])
        return cls(**kwargs)
