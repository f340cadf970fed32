"""integration-orchestrator."""
