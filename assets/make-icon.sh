#!/usr/bin/env bash
# Draws Shoal's icon (a shoal of three fish on a sea-blue tile) with
# ImageMagick and writes the sizes the desktop app bundles into src-tauri/icons/.
# Run again after changing the drawing; the PNGs are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src-tauri/icons
mkdir -p "$out"
convert -size 512x512 xc:none \
  \( -size 480x480 gradient:'#2b8fd6-#0d3b66' \
     \( -size 480x480 xc:none -fill white -draw 'roundrectangle 0,0 479,479 96,96' \) \
     -compose CopyOpacity -composite \) -geometry +16+16 -compose Over -composite \
  -fill white \
  -draw 'ellipse 300,150 78,40 0,360' -draw 'polygon 230,150 170,110 170,190' \
  -draw 'ellipse 250,270 96,50 0,360' -draw 'polygon 165,270 92,220 92,320' \
  -draw 'ellipse 330,385 70,36 0,360' -draw 'polygon 267,385 215,350 215,420' \
  -fill '#0d3b66' \
  -draw 'circle 345,142 353,142' -draw 'circle 305,258 315,258' -draw 'circle 370,377 377,377' \
  PNG32:"$out/icon.png"
for s in 32 128 256; do
  convert "$out/icon.png" -resize "${s}x${s}" PNG32:"$out/${s}x${s}.png"
done
cp "$out/256x256.png" "$out/128x128@2x.png"
convert "$out/icon.png" -define icon:auto-resize=256,128,64,48,32,16 "$out/icon.ico"
