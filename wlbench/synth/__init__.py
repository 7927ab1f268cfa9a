"""Synthesis: plan deterministic per-clip specs from a recipe and a soundbank, then render them with scaper."""
