"""The kind-independent build engine: spec -> plan -> recipes -> render -> write -> manifest."""
