#!/usr/bin/env bash
# `make demo`: boot the SIMULATED GPU fleet (systemd containers demo-*, kept between runs), run the collection's
# site.yml on it with the torch burn-in on the CPU, and print the fleet table and where the HTML report is.
#   GPUFLEET_DEMO_FROM=installed make demo   # the same, from the collection built and installed by ansible-galaxy
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "gpufleet demo: the GPUs in this fleet are SIMULATED (tests/simulators); no NVIDIA hardware is used."
echo "gpufleet demo: the burn-in runs the torch worker on the CPU (burnin_device=cpu), not on a GPU."
export GPUFLEET_REPORT_DIR="$PWD/reports"

case "${GPUFLEET_DEMO_FROM:-checkout}" in
  checkout) GPUFLEET_COLLECTIONS_PATH="$PWD/.build/collections" ;;
  installed)
    rm -rf .build/dist .build/installed-collections
    .venv/bin/ansible-galaxy collection build --output-path .build/dist . >/dev/null
    ANSIBLE_COLLECTIONS_PATH=.build/installed-collections \
      .venv/bin/ansible-galaxy collection install --offline --force -p .build/installed-collections .build/dist/gpufleet-nvidia-*.tar.gz
    GPUFLEET_COLLECTIONS_PATH="$PWD/.build/installed-collections"
    ;;
  *) echo "GPUFLEET_DEMO_FROM must be checkout or installed, not '${GPUFLEET_DEMO_FROM}'" >&2; exit 2 ;;
esac
export GPUFLEET_COLLECTIONS_PATH
echo "gpufleet demo: collection from $GPUFLEET_COLLECTIONS_PATH"

want=$(molecule/image/build.sh | tail -n 1)
torch_site=$(hack/torch-venv.sh | tail -n 1)
toolkit_repo=$(hack/toolkit-repo.sh | tail -n 1)
# Kept containers are reused only when every node runs the current image with this checkout's PyTorch and toolkit
# repository mounted; otherwise the fleet is recreated.
nodes=$(.venv/bin/python -c 'import sys, yaml; print(" ".join(p["name"] for p in yaml.safe_load(open(sys.argv[1]))["platforms"]))' \
  molecule/demo/molecule.yml)
for node in $nodes; do
  state=$(docker inspect -f '{{.State.Running}} {{.Config.Image}} {{range .Mounts}}{{if eq .Destination "/opt/gpufleet-torch/site"}}{{.Source}}{{end}}{{end}} {{range .Mounts}}{{if eq .Destination "/srv/nvidia-container-toolkit"}}{{.Source}}{{end}}{{end}}' "$node" 2>/dev/null || true)
  if [[ "$state" != "true $want $torch_site $toolkit_repo" ]]; then
    echo "gpufleet demo: (re)creating the simulated fleet ($node: ${state:-absent})"
    hack/molecule.sh destroy -s demo >/dev/null
    break
  fi
done
mkdir -p reports .build
log=.build/demo-converge.log
hack/molecule.sh converge -s demo 2>&1 | tee "$log"
changed=$(awk '/PLAY RECAP/ {recap = 1; next} recap && /changed=/ {for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) {split($i, kv, "="); total += kv[2]}} END {print total + 0}' "$log")
echo
echo "gpufleet demo -- SIMULATED GPUs (test doubles from tests/simulators, not real hardware); burn-in on the CPU"
cat reports/fleet.txt
echo
echo "gpufleet demo: HTML report: $PWD/reports/fleet.html (also fleet.md, fleet.json; burn-in: reports/burnin.html)"
echo "gpufleet demo: $changed task(s) changed in this run (a second 'make demo' reports 0)"
echo "gpufleet demo: the fleet is still running (docker ps); 'make clean' removes it."
