"""Isaac Sim 5.x runner for navigation scenarios (docs/isaac_sim.md). Written against the documented API, NOT RUN here.

Only ``run_scenario`` imports Isaac Sim, inside its ``main``; every other
module is plain numpy and is tested without Isaac Sim.
"""
