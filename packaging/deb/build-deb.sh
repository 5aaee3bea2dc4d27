#!/bin/sh
# build-deb.sh OUTDIR - build rulsrv_<version>_<arch>.deb from a build of this tree.
# Staged with `cmake --install`, dependencies from dpkg-shlibdeps, checked by lintian when
# it is installed.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(cd "${1:-$src}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
# BUILD=dir reuses an existing build tree (its install prefix must be /usr, the default).
build=${BUILD:-$work/build}

cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
DESTDIR="$stage" cmake --install "$build" --strip >/dev/null

version=$(sed -n 's/^project(rulsrv VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)

# Debian policy: compressed man pages, copyright and changelog in /usr/share/doc/rulsrv.
find "$stage/usr/share/man" -type f -name '*.[1-8]' -exec gzip -9n {} +
doc="$stage/usr/share/doc/rulsrv"
mkdir -p "$doc"
cp "$src/packaging/deb/copyright" "$doc/copyright"
gzip -9nc "$src/packaging/deb/changelog" > "$doc/changelog.Debian.gz"
# Plugins and binaries: no group/world write bits (rulsrv refuses such plugins anyway).
chmod -R go-w "$stage"
find "$stage/usr/lib/rulsrv/plugins" -name '*.so' -exec chmod 0644 {} +

# dpkg-shlibdeps wants a source package around it: give it a minimal one.
mkdir -p "$work/src/debian"
printf 'Source: rulsrv\n\nPackage: rulsrv\nArchitecture: any\n' > "$work/src/debian/control"
bins=$(find "$stage/usr/sbin" "$stage/usr/bin" "$stage/usr/lib/rulsrv/plugins" -type f)
# shellcheck disable=SC2086
depends=$(cd "$work/src" && dpkg-shlibdeps -O $bins 2>/dev/null | sed -n 's/^shlibs:Depends=//p')

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version-1/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" "$src/packaging/deb/control.in" > "$stage/DEBIAN/control"
(cd "$stage" && find etc -type f | sed 's|^|/|') > "$stage/DEBIAN/conffiles"
for script in postinst postrm; do
	install -m 0755 "$src/packaging/deb/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort |
	xargs md5sum) > "$stage/DEBIAN/md5sums"

deb="$out/rulsrv_${version}-1_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
