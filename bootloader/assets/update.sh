#!/bin/bash
# Regenerate every embedded boot binary from pinned Debian 13 (trixie) packages and write
# PROVENANCE.
#
# Why trixie on a Debian 12 host: Debian 12's signed grubx64.efi (GRUB 2.06) fails
# `loopback` on every ISO of real size (>= ~300 MB) with "out of memory" under UEFI x64;
# Debian 13's GRUB 2.12 does not. All GRUB files come from that one version.
#
# Signed binaries are copied byte for byte out of the .debs (apt-get download + dpkg -x);
# boot.img comes unmodified from grub-pc-bin; core.img (i386-pc) and BOOTIA32.EFI (i386-efi)
# are built here with the grub-mkimage of the pinned grub-common, from the module directories
# of the pinned grub-pc-bin / grub-efi-ia32-bin. trixie's grub-mkimage needs glibc 2.38, newer
# than Debian 12's, so it runs under trixie's own dynamic loader and libraries (pinned below,
# unpacked into a scratch directory, never installed); its output does not depend on them.
#
# The trixie packages are fetched with a private apt sources list, lists and cache in a
# scratch directory: the host's apt configuration is not changed. The mirror is the one the
# host's own apt sources name for Debian.
#
# Usage (as root, Debian 12 or 13): bootloader/assets/update.sh
# Compare with the committed files afterwards: git diff --stat bootloader/assets
set -euo pipefail

# --- pins: bump these together and rerun ---------------------------------------------
SUITE=trixie
GRUB_VER=2.12-9+deb13u4                       # source package grub2
GRUB_SIGNED_VER=1+2.12+9+deb13u4              # grub-efi-{amd64,arm64}-signed (source grub-efi-*-signed)
SHIM_SIGNED_VER=1.51~1+deb13u1+16.1-2~deb13u1 # shim-signed (source shim-signed, binary from shim 16.1)
SHIM_HELPERS_VER=1+16.1+2~deb13u1             # shim-helpers-*-signed (MokManager)
# The runtime of trixie's grub-mkimage (tools only: nothing of these reaches the stick).
TOOL_PKGS=(
  "libc6:amd64=2.41-12+deb13u5"
  "liblzma5:amd64=5.8.1-1+deb13u2"
  "libdevmapper1.02.1:amd64=2:1.02.205-2"
  "libselinux1:amd64=3.8.1-1"
  "libudev1:amd64=257.13-1~deb13u1"
  "libpcre2-8-0:amd64=10.46-1~deb13u3"
  "libcap2:amd64=1:2.75-10+deb13u1+b3"
)
# ---------------------------------------------------------------------------------------

HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
export DEBIAN_FRONTEND=noninteractive

# The Debian mirror the host already uses (deb822 or one-line sources), so no host name is
# written here.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i ~ /^(bookworm|trixie)$/) {print u; exit}}' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && awk '$1=="deb" {for(i=2;i<=NF;i++) if($i ~ /^(bookworm|trixie)$/ && $(i-1) ~ /^[a-z]+:\/\//) print $(i-1)}' "$f"
  done
  true
}
MIRROR=$(mirror | grep -v -- -security | head -1 || true)
[ -n "$MIRROR" ] || { echo "update.sh: no Debian mirror in the host's apt sources" >&2; exit 1; }

A="$W/apt"
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/parts"
echo "deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" >"$A/sources.list"
APT=(-o Dir::Etc::sourcelist="$A/sources.list" -o Dir::Etc::sourceparts="$A/parts"
  -o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache"
  -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root
  -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false)
apt-get -q "${APT[@]}" update >/dev/null

PKGS=(
  "shim-signed:amd64=$SHIM_SIGNED_VER"
  "shim-helpers-amd64-signed:amd64=$SHIM_HELPERS_VER"
  "grub-efi-amd64-signed:amd64=$GRUB_SIGNED_VER"
  "shim-signed:arm64=$SHIM_SIGNED_VER"
  "shim-helpers-arm64-signed:arm64=$SHIM_HELPERS_VER"
  "grub-efi-arm64-signed:arm64=$GRUB_SIGNED_VER"
  "grub-pc-bin:amd64=$GRUB_VER"
  "grub-efi-ia32-bin:amd64=$GRUB_VER"
  "grub-common:amd64=$GRUB_VER"
)
mkdir -p "$W/debs" "$W/tooldebs"; chmod 0755 "$W"; chmod 0777 "$W/debs" "$W/tooldebs" # apt downloads as _apt
(cd "$W/debs" && apt-get download -q "${APT[@]}" "${PKGS[@]}" >/dev/null)
(cd "$W/tooldebs" && apt-get download -q "${APT[@]}" "${TOOL_PKGS[@]}" >/dev/null)

# one extraction root per architecture, so arm64 and amd64 files never collide
for deb in "$W"/debs/*.deb; do
  arch=$(dpkg-deb -f "$deb" Architecture)
  mkdir -p "$W/root-$arch"
  dpkg -x "$deb" "$W/root-$arch"
done
X="$W/root-amd64"; XA="$W/root-arm64"
T="$W/toolroot"; mkdir -p "$T"
for deb in "$W"/tooldebs/*.deb; do dpkg -x "$deb" "$T"; done
TL="$T/usr/lib/x86_64-linux-gnu"
mkimage() { "$TL/ld-linux-x86-64.so.2" --library-path "$TL:$T/lib/x86_64-linux-gnu" "$X/usr/bin/grub-mkimage" "$@"; }
mkimage --version | grep -qF "$GRUB_VER" || { echo "update.sh: grub-mkimage is not $GRUB_VER" >&2; exit 1; }

# --- files taken unmodified ---------------------------------------------------------------
declare -A ORIGIN
take() { # take SRC-ROOT PATH-IN-PACKAGE PACKAGE OUTNAME
  cp "$1/$2" "$HERE/$4"
  ORIGIN[$4]="$3:/$2"
}
take "$X"  usr/lib/shim/shimx64.efi.signed                   shim-signed:amd64               shimx64.efi.signed
take "$X"  usr/lib/shim/mmx64.efi.signed                     shim-helpers-amd64-signed:amd64 mmx64.efi.signed
take "$X"  usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed grub-efi-amd64-signed:amd64     grubx64.efi.signed
take "$XA" usr/lib/shim/shimaa64.efi.signed                  shim-signed:arm64               shimaa64.efi.signed
take "$XA" usr/lib/shim/mmaa64.efi.signed                    shim-helpers-arm64-signed:arm64 mmaa64.efi.signed
take "$XA" usr/lib/grub/arm64-efi-signed/grubaa64.efi.signed grub-efi-arm64-signed:arm64     grubaa64.efi.signed
take "$X"  usr/lib/grub/i386-pc/boot.img                     grub-pc-bin:amd64               boot.img

# --- legacy BIOS core.img -----------------------------------------------------------------
# The modules must cover every command bootloader.Render can emit (bootloader tests check
# this list against the renderer); probe is needed by dracut entries, linux16 by iPXE, ntldr
# by Windows entries (bootmgr).
BIOS_MODULES="biosdisk part_gpt part_msdos fat ntldr iso9660 udf ext2 btrfs xfs squash4 loopback
linux linux16 chain normal configfile search search_fs_file search_fs_uuid search_label
regexp probe serial terminal echo test true sleep ls cat minicmd gzio xzio lzopio zstd halt
reboot keystatus"
BIOS_MODULES=$(echo $BIOS_MODULES)
# The embedded config runs under GRUB's rescue parser (simple commands only, no if/for).
# The BIOS reports the disk it loaded us from as $root (hdN); the hint "hdN," makes search
# try that disk's partitions first, so this stick's own ESP answers before any other disk.
cat > "$W/early-bios.cfg" <<'CFG'
search --no-floppy --set=root --file /boot/grub/compose.stick --hint=${root},
set prefix=($root)/boot/grub
configfile ($root)/boot/grub/grub.cfg
CFG
mkimage -O i386-pc -d "$X/usr/lib/grub/i386-pc" -o "$HERE/core.img" \
  -p /boot/grub -c "$W/early-bios.cfg" $BIOS_MODULES
ORIGIN[core.img]="built:grub-mkimage -O i386-pc -p /boot/grub (grub-common, grub-pc-bin)"
printf '%s\n' $BIOS_MODULES > "$HERE/core.modules"
ORIGIN[core.modules]="built:module list given to grub-mkimage for core.img"
cp "$W/early-bios.cfg" "$HERE/core-early.cfg"
ORIGIN[core-early.cfg]="built:early config embedded in core.img"

# --- ia32 UEFI: unsigned GRUB with its modules linked in (ia32 firmware has no Secure Boot
# in practice). grub-mkimage rather than grub-mkstandalone: mkstandalone's memdisk tar carries
# build-time mtimes, so its output differs on every run and could not be compared. With prefix
# /EFI/debian, GRUB reads the same per-stick stub as Debian's signed GRUB does.
IA32_MODULES="part_gpt part_msdos fat iso9660 udf ext2 btrfs xfs squash4 loopback linux chain
normal configfile search search_fs_file search_fs_uuid search_label regexp probe serial
terminal echo test true sleep ls cat minicmd gzio xzio lzopio zstd halt reboot efifwsetup
efi_gop efi_uga all_video keystatus"
IA32_MODULES=$(echo $IA32_MODULES)
mkimage -O i386-efi -d "$X/usr/lib/grub/i386-efi" -o "$HERE/BOOTIA32.EFI" \
  -p /EFI/debian $IA32_MODULES
ORIGIN[BOOTIA32.EFI]="built:grub-mkimage -O i386-efi -p /EFI/debian (grub-common, grub-efi-ia32-bin)"
printf '%s\n' $IA32_MODULES > "$HERE/ia32.modules"
ORIGIN[ia32.modules]="built:module list given to grub-mkimage for BOOTIA32.EFI"

# --- PROVENANCE ---------------------------------------------------------------------------
pkgline() {
  local deb=$1 name arch ver src srcname srcver
  name=$(dpkg-deb -f "$deb" Package); arch=$(dpkg-deb -f "$deb" Architecture)
  ver=$(dpkg-deb -f "$deb" Version)
  src=$(dpkg-deb -f "$deb" Source); src=${src:-$name}
  srcname=${src%% *}; srcver=$(sed -n 's/.*(\(.*\)).*/\1/p' <<<"$src"); srcver=${srcver:-$ver}
  echo "package $name:$arch $ver $(sha256sum "$deb" | cut -d' ' -f1) $srcname $srcver"
}
{
  echo "# Generated by update.sh; checked by bootloader tests. Do not edit."
  echo "# package <name:arch> <version> <sha256 of .deb> <source package> <source version>"
  echo "# Packages whose files are embedded or built into them (Debian $SUITE):"
  for deb in "$W"/debs/*.deb; do pkgline "$deb"; done | sort
  echo "# Packages that only run grub-mkimage here (nothing of them is embedded):"
  for deb in "$W"/tooldebs/*.deb; do pkgline "$deb"; done | sort
  echo "# file <name> <sha256> <origin>"
  for f in $(printf '%s\n' "${!ORIGIN[@]}" | sort); do
    echo "file $f $(sha256sum "$HERE/$f" | cut -d' ' -f1) ${ORIGIN[$f]}"
  done
} > "$HERE/PROVENANCE"
