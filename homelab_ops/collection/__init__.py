"""The pyinfra collection: facts, operations and deploys, usable without the agent."""
