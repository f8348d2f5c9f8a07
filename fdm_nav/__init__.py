"""Navigation: perceptive forward dynamics model (FDM) of a legged robot, its training, critics, MPPI planner and ROS 2 node."""
