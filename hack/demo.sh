#!/usr/bin/env bash
# `make demo`: boot the SIMULATED GPU fleet (systemd containers, kept between runs) and run playbooks/site.yml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "gpufleet demo: the GPUs in this fleet are SIMULATED (tests/simulators); no NVIDIA hardware is used."
want=$(molecule/image/build.sh | tail -n 1)
# Kept containers are reused only when every node is running on the current image; otherwise (image rebuilt,
# a node gone because `make test` shares the node names) the fleet is recreated.
nodes=$(.venv/bin/python -c 'import sys, yaml; print(" ".join(p["name"] for p in yaml.safe_load(open(sys.argv[1]))["platforms"]))' \
  .config/molecule/config.yml)
for node in $nodes; do
  state=$(docker inspect -f '{{.State.Running}} {{.Config.Image}}' "$node" 2>/dev/null || true)
  if [[ "$state" != "true $want" ]]; then
    echo "gpufleet demo: (re)creating the simulated fleet ($node: ${state:-absent})"
    hack/molecule.sh destroy -s demo >/dev/null
    break
  fi
done
mkdir -p reports
hack/molecule.sh converge -s demo
echo
cat reports/demo-fleet.txt
echo
echo "gpufleet demo: the fleet is still running (docker ps); 'make clean' removes it."
