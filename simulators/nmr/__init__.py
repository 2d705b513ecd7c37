"""NMR simulators: peak lists, time-domain synthesis and non-uniform sampling schedules."""
