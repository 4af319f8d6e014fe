# Sourced by scripts/test and scripts/demo: install what a fresh Debian machine
# lacks. As root it runs apt-get; otherwise it prints the exact command and
# fails, so nothing half-works silently (Smithay's build script disables GBM
# when libgbm-dev is missing, and only `cargo clean` recovers from that).
# util-linux: prlimit (the fd-exhaustion test and `accord-bench refuse`).
# libclang-dev: v4l2r (accord-v4l2) runs bindgen on <linux/videodev2.h>.
# gstreamer1.0-*: `accord-bench waylandsink` (GStreamer's waylandsink, in
# plugins-bad, fed by videotestsrc from plugins-base) and the accordsink
# tests (gst-launch-1.0, gst-inspect-1.0 from gstreamer1.0-tools).
# libgstreamer1.0-dev, libgstreamer-plugins-base1.0-dev: gst-accord builds
# against GStreamer 1.22 (gstreamer-rs's -sys crates find it with pkg-config).
# linux-image-amd64: Debian 12's 6.1, the real-kernel tier's smoke run; its
# default 6.12 kernel comes from bookworm-backports through tests/vm/fetch-kernel
# (apt-get download + dpkg-deb -x into tests/vm/cache, nothing installed;
# debian-archive-keyring verifies it, xz-utils unpacks its .ko.xz modules).
ACCORD_APT_PACKAGES="pkg-config libxkbcommon-dev libgbm-dev libpixman-1-dev libudev-dev libdrm-dev \
libwayland-dev libwayland-bin wayland-protocols make wayland-utils weston libgl1-mesa-dri libfaketime \
qemu-system-x86 linux-image-amd64 busybox-static kmod cpio util-linux libclang-dev \
debian-archive-keyring xz-utils \
gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev"

accord_missing_packages() {
    local missing=""
    for p in $ACCORD_APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    echo "$missing"
}

accord_install_deps() {
    local missing
    missing=$(accord_missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "==> installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
            echo "error: apt-get install failed for:$missing" >&2
            return 1
        }
    else
        echo "error: missing Debian packages:$missing" >&2
        echo "run: sudo apt-get install -y$missing" >&2
        return 1
    fi
}
