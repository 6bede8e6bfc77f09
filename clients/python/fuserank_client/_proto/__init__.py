"""Generated protobuf modules (written by `scripts/gen-proto`; do not edit)."""
