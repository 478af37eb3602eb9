#!/usr/bin/env bash
# Builds the image from the Dockerfile on a machine that reaches no container registry and
# cannot start containers (a sandbox), to check the Dockerfile end to end: stand-in base images
# are made from this machine's Go toolchain (/usr/local/go) and Debian's busybox-static, the
# build runs with buildah's chroot isolation (no OCI runtime), then the binary is taken out of
# the image and run. Needs root, buildah and busybox-static (apt-get install buildah
# busybox-static). The real build (make image) uses golang:1.26 and distroless/static.
#
# Usage: scripts/image-offline.sh [TAG]    (default localhost/dotmac-ledger:offline)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/dotmac-ledger:offline}
goroot=$(go env GOROOT)
for c in buildah busybox; do
	command -v "$c" >/dev/null || { echo "image-offline: $c is not installed (apt-get install buildah busybox-static)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Builder: busybox for RUN's /bin/sh, Go, CA certificates for the module proxy.
mkdir -p "$work/go/rootfs/bin" "$work/go/rootfs/tmp" "$work/go/rootfs/etc/ssl/certs" "$work/go/rootfs/usr/local"
cp "$(command -v busybox)" "$work/go/rootfs/bin/busybox"
ln -s busybox "$work/go/rootfs/bin/sh"
cp /etc/ssl/certs/ca-certificates.crt "$work/go/rootfs/etc/ssl/certs/"
cp -a "$goroot" "$work/go/rootfs/usr/local/go"
chmod 1777 "$work/go/rootfs/tmp"
cat >"$work/go/Containerfile" <<EOT
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/go/bin:/bin GOPATH=/go GOTOOLCHAIN=local GOPROXY=$(go env GOPROXY)
EOT
buildah build --quiet --isolation chroot -t localhost/dotmac-golang-standin:1.26 "$work/go" >/dev/null

# Runtime: what distroless/static provides that the binary uses (nonroot user, CA certificates).
mkdir -p "$work/rt/rootfs/etc/ssl/certs" "$work/rt/rootfs/home/nonroot" "$work/rt/rootfs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/rt/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/rt/rootfs/etc/group"
cp /etc/ssl/certs/ca-certificates.crt "$work/rt/rootfs/etc/ssl/certs/"
chmod 1777 "$work/rt/rootfs/tmp"
printf 'FROM scratch\nCOPY rootfs/ /\n' >"$work/rt/Containerfile"
buildah build --quiet --isolation chroot -t localhost/dotmac-static-standin:nonroot "$work/rt" >/dev/null

start=$(date +%s)
make --no-print-directory image ENGINE=buildah IMAGE="$tag" IMAGE_FLAGS="--isolation chroot \
	--build-arg GO_IMAGE=localhost/dotmac-golang-standin:1.26 --build-arg RUNTIME_IMAGE=localhost/dotmac-static-standin:nonroot"
echo "image-offline: built $tag in $(($(date +%s) - start)) s"

ctr=$(buildah from "$tag")
trap 'buildah umount "$ctr" >/dev/null; buildah rm "$ctr" >/dev/null; rm -rf "$work"' EXIT
root=$(buildah mount "$ctr")
buildah inspect --format 'image-offline: user {{.OCIv1.Config.User}}, entrypoint {{.OCIv1.Config.Entrypoint}}, cmd {{.OCIv1.Config.Cmd}}' "$ctr"; echo
file "$root/usr/local/bin/dotmac" | grep -q 'statically linked' || { echo "image-offline: the binary is not static" >&2; exit 1; }
"$root/usr/local/bin/dotmac" --help >/dev/null
buildah images --format 'image-offline: {{.Name}}:{{.Tag}} {{.Size}}' "$tag"
echo "image-offline: ok (static binary, runs; the stand-in runtime base is a few kB, distroless/static about 2 MB)"
