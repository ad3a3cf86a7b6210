set -u
umask 022
PATH="$PATH:/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH
# The board keeps what jetup needs between bundles here: the last sequence
# applied, an apply in progress, receipts, the delta decoder's root.
state=${JETUP_BOARD_STATE:-/nix/var/jetup}
