#!/usr/bin/env bash
# Installs the Debian packages BeatFlow needs when they are missing (root only; otherwise
# says what to install). PostgreSQL comes without its default cluster: the project runs
# its own clusters in private directories. Extra commands to provide (e.g. wrk for the
# benchmarks) can be named as arguments; each is installed from the package of its name.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql-15)
# FluidSynth and the General MIDI soundfont (FluidR3_GM, MIT) render notes with sampled instruments.
command -v fluidsynth >/dev/null || missing+=(fluidsynth)
[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing+=(fluid-soundfont-gm)
# Recorded speakers (KTuberling's spoken words, GPL-2+): the separator bench's real voices.
[ -d /usr/share/ktuberling/sounds ] || missing+=(ktuberling-data)
# museval (the separator's SDR) imports stempeg, which refuses to load without ffmpeg; stempeg reads the MUSDB18
# sample through it, and the audio format tests check files as ffmpeg and sox write them.
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v sox >/dev/null || missing+=(sox)
# Headless Chromium renders the API docs in tests (Playwright drives it; it downloads no browser).
[ -x /usr/bin/chromium ] || missing+=(chromium)
for command in "$@"; do
  command -v "$command" >/dev/null || missing+=("$command")
done

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
install -d /etc/postgresql-common
grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf \
  || echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
