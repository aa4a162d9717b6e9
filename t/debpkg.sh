# debpkg.sh - run an MTA that cannot be installed beside Postfix, from its
# Debian packages unpacked into a private directory (source it; bash).
#
# Sendmail and Exim conflict with Postfix as Debian packages, so the tests
# never install them: dp_unpack fetches the .debs with `apt-get download`
# into a cache directory (once; later runs reuse them), unpacks them with
# `dpkg -x` into a directory of the caller's, removes every set-uid and
# set-gid bit of the copy (a set-id binary ignores LD_LIBRARY_PATH, and the
# tests run it as root anyway) and checks with ldd that every shared library
# the binaries need is on the system.  Nothing is written outside the two
# directories.
#
#     . "$TESTDIR/debpkg.sh"
#     dp_unpack "$DIR/root" /usr/sbin/exim4 exim4-base exim4-daemon-light \
#         || { echo "1..0 # SKIP $DP_WHY"; exit 0; }
#     "$DIR/root/usr/sbin/exim4" -bV
#
# dp_private_etc, dp_private_user and dp_run run the unpacked MTA in a
# private mount namespace whose /etc is a directory of the caller's laid
# over the system's (read-only overlayfs; bind mounts of single files when
# overlayfs is missing): resolv.conf pointing at 127.0.0.1 only, hosts,
# nsswitch.conf, passwd/group with the MTA's own user added, and whatever
# else the caller puts there (e.g. exim4/trusted_configs).
#
# Knobs: DANCE_DEB_CACHE, the cache directory (default
# /var/cache/dance-tests/debs).  Sets DP_WHY (why it failed, one line) and
# DP_VERSIONS (the packages' versions, "name version" a line).

DP_CACHE=${DANCE_DEB_CACHE:-/var/cache/dance-tests/debs}

# dp_fetch PKG... - the .deb of each PKG into $DP_CACHE (apt-get download), unless already there.
dp_fetch() {
    local p missing=()
    mkdir -p "$DP_CACHE" || { DP_WHY="cannot create $DP_CACHE"; return 1; }
    for p in "$@"; do
        compgen -G "$DP_CACHE/${p}_*.deb" >/dev/null || missing+=("$p")
    done
    [ "${#missing[@]}" = 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        DP_WHY="no apt-get to fetch ${missing[*]}"
        return 1
    fi
    # _apt cannot write into a root-owned cache: download as root, quietly.
    if ! (cd "$DP_CACHE" && apt-get download -q=2 -o APT::Sandbox::User=root "${missing[@]}") \
        >"$DP_CACHE/fetch.log" 2>&1; then
        DP_WHY="apt-get download ${missing[*]} failed: $(tail -n 1 "$DP_CACHE/fetch.log")"
        return 1
    fi
    return 0
}

# dp_unpack ROOT BINARY PKG... - fetch and unpack PKG... into ROOT; BINARY (a path inside) must find its libraries.
dp_unpack() {
    local root=$1 bin=$2 p deb libs
    shift 2
    DP_WHY=
    DP_VERSIONS=
    dp_fetch "$@" || return 1
    mkdir -p "$root"
    for p in "$@"; do
        deb=$(compgen -G "$DP_CACHE/${p}_*.deb" | sort | tail -n 1)
        if ! dpkg -x "$deb" "$root" 2>"$root.dpkg.err"; then
            DP_WHY="dpkg -x $(basename "$deb") failed: $(tail -n 1 "$root.dpkg.err")"
            return 1
        fi
        DP_VERSIONS+="$p $(dpkg-deb -f "$deb" Version)"$'\n'
    done
    find "$root" -type f -perm /6000 -exec chmod ug-s {} +
    if [ ! -x "$root$bin" ]; then
        DP_WHY="the packages hold no $bin"
        return 1
    fi
    libs=$(ldd "$root$bin" 2>&1 | awk '/not found/ { print $1 }' | tr '\n' ' ')
    if [ -n "$libs" ]; then
        DP_WHY="$bin needs libraries that are not installed: $libs"
        return 1
    fi
    return 0
}

# dp_version PKG - the unpacked version of PKG (after dp_unpack).
dp_version() {
    printf '%s' "$DP_VERSIONS" | awk -v p="$1" '$1 == p { print $2 }'
}

# dp_private_etc DIR NAME... - resolv.conf (127.0.0.1 only), hosts (loopback, NAME... on 127.0.0.1) and nsswitch.conf (files first) in DIR, for dp_run.
dp_private_etc() {
    local dir=$1
    shift
    mkdir -p "$dir"
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
    printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost\n' "$*" >"$dir/hosts"
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nservices: files\n' >"$dir/nsswitch.conf"
    DP_ETC=$dir
}

# dp_private_user NAME UID GID - a user and group NAME with these ids in $DP_ETC's passwd and group (copies of the system's), for dp_run.
dp_private_user() {
    [ -f "$DP_ETC/passwd" ] || cp /etc/passwd "$DP_ETC/passwd"
    [ -f "$DP_ETC/group" ] || cp /etc/group "$DP_ETC/group"
    printf '%s:x:%s:%s:%s:/nonexistent:/usr/sbin/nologin\n' "$1" "$2" "$3" "$1" >>"$DP_ETC/passwd"
    printf '%s:x:%s:\n' "$1" "$3" >>"$DP_ETC/group"
}

# dp_run CMD... - run CMD in a private mount namespace whose /etc is $DP_ETC laid over the system's /etc (read-only overlay; files and directories of $DP_ETC win); DP_SETSID=1: in a session and process group of its own (same pid).
dp_run() {
    # A read-only overlay needs no upper directory and can add what /etc
    # lacks (e.g. /etc/exim4/); without overlayfs, each file of $DP_ETC is
    # bind-mounted over its namesake, which must then exist.
    ${DP_SETSID:+setsid} unshare -m /bin/sh -c '
        mount --make-rprivate / 2>/dev/null
        if ! mount -t overlay dance-etc -o "lowerdir=$0:/etc" /etc 2>/dev/null; then
            for f in $(cd "$0" && find . -type f); do
                mount --bind "$0/$f" "/etc/$f" || exit 97
            done
        fi
        exec "$@"' "$DP_ETC" "$@"
}
