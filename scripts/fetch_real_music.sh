#!/usr/bin/env bash
# Fetch freely licensed real recordings from Debian's package archive into DIR, for
# `genrelens bench-xai DIR` (the planted-cue benchmark on real music):
#
#   fretsonfire-songs-muldjord  4 metal songs by Muldjord (El Senator)       CC BY-SA 3.0
#   fretsonfire-songs-sectoid   4 rock/metal songs by Carlos Viola Iborra    MIT (Expat)
#   singularity-music           16 electronic/ambient tracks by Max McCracken CC BY-SA 3.0
#
# From the Frets on Fire song packs the full backing mix (song.ogg) is taken, not the separate
# lead guitar track. DIR/SOURCES.tsv records package, version, licence, file and sha256 of
# every file; the licences' texts are copied to DIR/licences/. Needs apt-get and dpkg-deb
# (Debian or Ubuntu); downloads about 110 MB; the audio is never part of the repository.
#
# Usage: bash scripts/fetch_real_music.sh DIR
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash scripts/fetch_real_music.sh DIR" >&2
  exit 2
fi
out=$1
for tool in apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (Debian/Ubuntu)" >&2; exit 1; }
done
mkdir -p "$out/licences"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packages="fretsonfire-songs-muldjord fretsonfire-songs-sectoid singularity-music"
# apt-get download writes into the current folder and needs it writable by _apt (or root)
chmod 777 "$work"
if ! (cd "$work" && apt-get download $packages >/dev/null 2>"$work/apt.log"); then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq; fi
  (cd "$work" && apt-get download $packages >/dev/null) || {
    echo "error: apt-get download failed; run 'apt-get update' (as root) and retry" >&2; exit 1; }
fi
tsv="$out/SOURCES.tsv.tmp"
printf 'package\tversion\tlicence\tfile\tsha256\n' > "$tsv"
for deb in "$work"/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  ver=$(dpkg-deb -f "$deb" Version)
  dpkg-deb -x "$deb" "$work/root"
  cp "$work/root/usr/share/doc/$pkg/copyright" "$out/licences/$pkg.copyright"
  case "$pkg" in
    fretsonfire-songs-sectoid) lic="MIT (Expat)" ;;
    *) lic="CC BY-SA 3.0" ;;
  esac
  while IFS= read -r -d '' f; do
    case "$pkg" in
      fretsonfire-*) name="fof_$(basename "$(dirname "$f")" | tr ' ' '_').ogg" ;;
      *) name="sing_$(basename "$f" | tr ' ' '_')" ;;
    esac
    cp "$f" "$out/$name"
    printf '%s\t%s\t%s\t%s\t%s\n' "$pkg" "$ver" "$lic" "$name" \
      "$(sha256sum "$out/$name" | cut -d' ' -f1)" >> "$tsv"
  done < <(
    if [ "${pkg#fretsonfire}" != "$pkg" ]; then
      find "$work/root/usr/share/games" -name song.ogg -print0
    else
      find "$work/root/usr/share/games" -name '*.ogg' -print0
    fi)
  rm -rf "$work/root"
done
mv "$tsv" "$out/SOURCES.tsv"
echo "$(($(wc -l < "$out/SOURCES.tsv") - 1)) files in $out (sources and checksums: $out/SOURCES.tsv)"
