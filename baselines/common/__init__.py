"""What every baseline trainer shares: data access, building blocks, the fit loop and checkpoints."""
