"""Reward from human demonstrations: RGB-D keypoint features, inverse RL, human-to-cobot retargeting and the reward node."""
