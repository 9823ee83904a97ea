"""Runs `eddy run ... --json` and prints its events per wall-clock second and per CPU second
(user + system time of the eddy process, all its threads): on a shared machine the CPU figure
moves far less with the load than the wall-clock one.

    timed.py EDDY JOB [--set k=v ...]   ->   "<events/s> <events per CPU-s>"
"""

import json
import resource
import subprocess
import sys

before = resource.getrusage(resource.RUSAGE_CHILDREN)
out = subprocess.run([sys.argv[1], "run", sys.argv[2], "--json", *sys.argv[3:]], check=True, capture_output=True, text=True).stdout
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
s = json.loads(out)
print(f"{round(s['records_per_second'])} {round(s['records'] / cpu)}")
