"""The value-based family (DQN, IQN): shared schema, learner, actor, replay agent."""
