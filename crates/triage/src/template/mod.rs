//! Message templates (placeholder; the miner lands here).
