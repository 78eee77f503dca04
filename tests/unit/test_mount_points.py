"""Hot folders on shares: one whose share is unmounted (its mount point left empty on the local
disk, where a copy would succeed and never reach the printer: delivery.MountPoints), one whose
server cannot be reached (the error in words)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from spo_hotfolder.config import HotFolderConfig, Mount, filesystem_mount_points, links_followed_here, mount_table
from spo_hotfolder.delivery import DeliveryError, MountPoints, check_hot_folder, explain_os_error


def _with_dev(path: Path, dev: int) -> os.stat_result:
    st = os.stat(path)
    fields = list(st)
    fields[2] = dev  # st_dev
    return os.stat_result(fields)


def test_a_folder_seen_mounted_and_then_on_its_parents_filesystem_is_not_mounted(tmp_path: Path) -> None:
    hot = tmp_path / "indigo"
    hot.mkdir()
    store = tmp_path / "state" / "mount-points.txt"
    store.parent.mkdir()
    mounts = MountPoints(fstab=tmp_path / "no-fstab", store=store)
    local = os.stat(tmp_path).st_dev
    mounts.check("hot folder indigo", hot, os.stat(hot))  # an ordinary local folder: fine, always
    assert not store.exists()
    mounts.check("hot folder indigo", hot, _with_dev(hot, local + 1))  # a share mounted there
    assert str(hot) in store.read_text().splitlines()
    mounts.check("hot folder indigo", hot, _with_dev(hot, local + 2))  # remounted (another device number)
    with pytest.raises(DeliveryError) as unmounted:
        mounts.check("hot folder indigo", hot, os.stat(hot))  # the share is gone, the mount point stays
    assert unmounted.value.transient
    assert str(unmounted.value) == (
        f"hot folder indigo ({hot}) is not mounted: it was seen as the mount point of a share, and is now a folder "
        "of the local disk, where the printer would never see a file; mount the share again"
    )
    # Still known after a restart (the share down meanwhile) ...
    with pytest.raises(DeliveryError, match="is not mounted"):
        MountPoints(fstab=tmp_path / "no-fstab", store=store).check("hot folder indigo", hot, os.stat(hot))
    # ... until the sysadmin says it is a local folder now (no restart needed): the line removed,
    store.write_text("# (edited)\n")
    mounts.check("hot folder indigo", hot, os.stat(hot))
    # ... or the whole file.
    mounts.check("hot folder indigo", hot, _with_dev(hot, local + 1))
    with pytest.raises(DeliveryError):
        mounts.check("hot folder indigo", hot, os.stat(hot))
    store.unlink()
    mounts.check("hot folder indigo", hot, os.stat(hot))


def test_a_symbolic_link_to_a_folder_on_another_disk_is_not_a_mount_point(tmp_path: Path) -> None:
    """(audit CL 2) The link's target is looked at, not the link: a link to a folder elsewhere whose
    device differs from the link's folder's is not a share's mount point."""
    target = tmp_path / "elsewhere" / "hot"
    target.mkdir(parents=True)
    link = tmp_path / "links" / "lk"
    link.parent.mkdir()
    link.symlink_to(target)
    mounts = MountPoints(fstab=tmp_path / "no-fstab", store=tmp_path / "mount-points.txt")
    mounts.check("hot folder lk", link, _with_dev(target, os.stat(tmp_path).st_dev + 1))  # (as if another disk)
    assert (tmp_path / "mount-points.txt").read_text().splitlines()[-1] == str(target)
    other = tmp_path / "local3"
    other.mkdir()
    link.unlink()
    link.symlink_to(other)  # the link now points at an ordinary local folder
    mounts.check("hot folder lk", link, os.stat(link))


def test_a_folder_fstab_mounts_that_is_not_mounted(tmp_path: Path) -> None:
    hot = tmp_path / "rip share"
    hot.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text(
        "# <file system> <mount point> <type> <options> <dump> <pass>\n"
        "UUID=1234 / ext4 defaults 0 1\n"
        f"//rip/hot {str(hot).replace(' ', chr(92) + '040')} cifs credentials=/etc/rip,soft 0 0\n"
    )
    mounts = MountPoints(fstab=fstab)
    with pytest.raises(DeliveryError, match=r"is not mounted: .* lists it as a mount point, and nothing is mounted"):
        mounts.check("hot folder rip", hot, os.stat(hot))
    fstab.write_text("UUID=1234 / ext4 defaults 0 1\n")  # taken out of fstab: a local folder now
    mounts.check("hot folder rip", hot, os.stat(hot))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            errno.ENOTCONN,
            "hot folder indigo (/mnt/indigo/in) is on a share that cannot be reached (Transport endpoint is not "
            "connected): is its server up and the share mounted?",
        ),
        (
            errno.EHOSTDOWN,
            "hot folder indigo (/mnt/indigo/in) is on a share that cannot be reached (Host is down): is its server "
            "up and the share mounted?",
        ),
        (
            errno.ESTALE,
            "hot folder indigo (/mnt/indigo/in) is on a share whose folder handle is stale (Stale file handle): the "
            "share was changed or mounted again under the daemon; unmount and mount it again",
        ),
    ],
)
def test_a_share_that_cannot_be_reached_is_said_in_words(code: int, expected: str) -> None:
    hot = HotFolderConfig(name="indigo", path=Path("/mnt/indigo/in"))
    error = explain_os_error(OSError(code, os.strerror(code)), hot)
    assert str(error) == expected
    assert error.transient


def test_a_hot_folder_that_is_a_dangling_link_is_said_as_such(tmp_path: Path) -> None:
    """Audit AO: a hot folder configured as a symbolic link whose target is gone was said to "not
    exist", which sent the sysadmin looking for a missing folder, not a link."""
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    for path, said in (
        (tmp_path / "link", f"is a symbolic link to {tmp_path / 'gone'}, which does not exist"),
        (tmp_path / "missing", "does not exist"),
    ):
        with pytest.raises(DeliveryError) as info:
            check_hot_folder(HotFolderConfig(name="indigo", path=path))
        assert str(info.value) == (
            f"hot folder indigo ({path}) {said}; is the printer's share mounted? The daemon never creates it"
        )
        assert info.value.transient


def test_a_folder_the_mount_table_lists_is_known_as_mounted_before_any_delivery(tmp_path: Path) -> None:
    """Audit BG D1: a share mounted at the daemon's start and unmounted before the first delivery
    there: that delivery went into the empty mount point (InHotFolder, never printed), the folder
    being known as a mount point only from a delivery. The mount table read at the start tells."""
    hot, other = tmp_path / "indigo", tmp_path / "local"
    hot.mkdir()
    other.mkdir()
    store = tmp_path / "mount-points.txt"
    mounts = MountPoints(fstab=tmp_path / "no-fstab", store=store)
    mounts.note_mounted([hot, other], ["/", str(tmp_path / "elsewhere"), f"{hot}/"])
    assert store.read_text().splitlines()[-1] == str(hot)
    with pytest.raises(DeliveryError, match="is not mounted: it was seen as the mount point of a share"):
        mounts.check("hot folder indigo", hot, os.stat(hot))  # (unmounted since: a folder of the local disk)
    mounts.check("hot folder local", other, os.stat(other))


def test_links_to_a_mount_point_are_followed_without_a_call_into_a_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CS 3: a hot folder named through a symbolic link is the mount point it leads to; the
    links are read on the local disk only: never the mount point itself, nor anything in a share
    (a call there could hang on a server that does not answer)."""
    share = tmp_path / "mnt" / "share"
    (share / "in").mkdir(parents=True)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "abs").symlink_to(share)
    (tmp_path / "srv" / "rel").symlink_to("../mnt/share")
    (tmp_path / "srv" / "chain").symlink_to("rel")
    (share / "in" / "deep").symlink_to("/elsewhere")
    (tmp_path / "loop").symlink_to("loop")
    read: list[str] = []
    real_readlink = os.readlink
    monkeypatch.setattr(os, "readlink", lambda path: read.append(str(path)) or real_readlink(path))
    points, remote = ["/", str(share)], [str(share)]
    for name in ("abs", "rel", "chain"):
        assert links_followed_here(tmp_path / "srv" / name, points, remote) == share
    assert links_followed_here(tmp_path / "srv" / "chain" / "in" / "deep", points, remote) == share / "in" / "deep"
    assert links_followed_here(tmp_path / "srv" / ".." / "srv" / "abs", points, remote) == share
    assert links_followed_here(tmp_path / "loop" / "x", points, remote) == tmp_path / "loop" / "x"
    assert read and not [path for path in read if path == str(share) or path.startswith(f"{share}/")]
    # (a link inside a local mount point is read: only a share's are not)
    assert links_followed_here(tmp_path / "srv" / "chain" / "in" / "deep", points, []) == Path("/elsewhere")


def test_remote_mounts_are_told_by_their_file_system_type(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "30 22 0:50 / /mnt/indigo\\040in rw,relatime shared:7 - cifs //rip/in rw\n"
        "31 22 0:51 / /mnt/nfs rw - nfs4 rip:/in rw\n"
        "32 22 0:52 / /mnt/sshfs rw - fuse.sshfs rip:/in rw\n"
        "33 22 0:53 / /tmp rw - tmpfs tmpfs rw\n"
    )
    table = mount_table(info)
    assert [mount.point for mount in table if mount.remote] == ["/mnt/indigo in", "/mnt/nfs", "/mnt/sshfs"]
    assert table[0].device == "254:0" and table[1].kind == "cifs"
    assert mount_table(tmp_path / "none") == []


def test_a_folder_bound_onto_its_own_file_system_is_no_share_of_its_own(tmp_path: Path) -> None:
    """Audit DC 1: systemd's ReadWritePaths= (the unit's drop-in names each hot folder) binds each
    path onto itself in the service: the mount table lists every hot folder as a mount point, of
    its parent's own file system. Each was noted as a share's mount point, and every delivery
    refused as "not mounted"; no job printed under systemd."""
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "30 22 0:50 / /mnt/indigo rw - cifs //rip/in rw\n"
        "40 22 254:0 /srv/hot/local /srv/hot/local rw - ext4 /dev/vda rw\n"  # (a local hot folder, bound)
        "41 30 0:50 /in /mnt/indigo/in rw - cifs //rip/in rw\n"  # (a folder in the share, bound)
        "42 30 0:50 / /mnt/indigo rw - cifs //rip/in rw\n"  # (the share's mount point, bound)
        "43 22 0:60 / /srv/hot/tmp rw - tmpfs tmpfs rw\n"
    )
    assert filesystem_mount_points(mount_table(info)) == ["/mnt/indigo", "/mnt/indigo", "/srv/hot/tmp"]
    assert filesystem_mount_points(mount_table(info), ["/srv/hot/tmp", "/srv/hot/local"]) == ["/srv/hot/tmp"]


def test_a_folder_bound_from_elsewhere_on_its_own_file_system_is_a_mount_of_its_own(tmp_path: Path) -> None:
    """Audit DH 2: a bind of /data/printer onto /srv/hot (fstab's `bind`, systemd's BindPaths=, a
    container's volume) uncovers the folder under it once unmounted, which the printer never sees;
    taken for a folder bound onto itself, it was no longer noted, and a delivery went there."""
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "40 22 254:0 /data/printer /srv/hot rw - ext4 /dev/vda rw\n"
        "41 22 254:1 / /data2 rw - ext4 /dev/vdb rw\n"
        "42 41 254:1 /in /data2/in rw - ext4 /dev/vdb rw\n"  # (bound onto itself, under another mount)
        "43 41 254:1 /elsewhere /data2/hot rw - ext4 /dev/vdb rw\n"
    )
    assert filesystem_mount_points(mount_table(info)) == ["/srv/hot", "/data2", "/data2/hot"]


def test_a_folder_bound_from_elsewhere_on_its_own_disk_is_mounted_while_the_table_lists_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GW 2: a hot folder bound from another folder of its own disk (`mount --bind /srv/x
    /srv/hot`) is noted as a mount point (DH 2), and its device is its parent's: every delivery was
    refused "not mounted", mounted as it was. Mounted while the mount table lists it so; once
    unmounted, refused as before."""
    import spo_hotfolder.delivery as delivery_module

    hot = tmp_path / "hot"
    hot.mkdir()
    store = tmp_path / "mount-points.txt"
    store.write_text(f"{hot}\n")  # (noted at the start: the table listed it)
    mounts = MountPoints(fstab=tmp_path / "no-fstab", store=store)
    device = os.stat(tmp_path).st_dev
    dev = f"{os.major(device)}:{os.minor(device)}"
    bound = [
        Mount("/", "ext4", dev),
        Mount(str(hot), "ext4", dev, root=str(tmp_path / "printer")),
    ]
    monkeypatch.setattr(delivery_module, "mount_table", lambda: bound)
    mounts.check("hot folder indigo", hot, os.stat(hot))  # mounted: no error
    monkeypatch.setattr(delivery_module, "mount_table", lambda: bound[:1])  # unmounted
    with pytest.raises(DeliveryError, match="is not mounted: it was seen as the mount point of a share"):
        mounts.check("hot folder indigo", hot, os.stat(hot))
    # A folder bound onto itself (systemd's ReadWritePaths=) is no share: unmounted all the same.
    self_bound = [bound[0], Mount(str(hot), "ext4", dev, root=str(hot))]
    monkeypatch.setattr(delivery_module, "mount_table", lambda: self_bound)
    with pytest.raises(DeliveryError, match="is not mounted"):
        mounts.check("hot folder indigo", hot, os.stat(hot))


def test_a_share_mounted_on_the_hot_folders_parent_is_looked_at_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GZ 1: the share mounted on /mnt/indigo, the hot folder its folder /mnt/indigo/in (as
    README's fstab line has it): unmounted, it uncovered a local folder of that path, whose device
    is its parent's as the share's folder's was, and the job was delivered there, InHotFolder,
    never printed. The share above, seen mounted, is looked at too."""
    import spo_hotfolder.delivery as delivery_module
    from spo_hotfolder.config import share_points_above

    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "40 22 0:50 / /mnt/indigo rw - cifs //rip/hotfolders rw\n"
        "41 40 0:50 /in /mnt/indigo/in rw - cifs //rip/hotfolders rw\n"  # (systemd's bind onto itself)
        "42 22 254:0 /srv/local /srv/local rw - ext4 /dev/vda rw\n"  # (bound onto itself: no share)
    )
    table = mount_table(info)
    assert share_points_above(table, ["/mnt/indigo/in", "/mnt/indigo/in/staging", "/srv/local/hot", "/srv/x"]) == [
        "/mnt/indigo"
    ]
    share = tmp_path / "mnt" / "indigo"
    hot = share / "in"
    hot.mkdir(parents=True)  # (the local folder the unmount uncovers)
    store = tmp_path / "mount-points.txt"
    mounts = MountPoints(fstab=tmp_path / "no-fstab", store=store)
    mounts.note_mounted([share], [str(share)])  # (seen mounted at the start)
    monkeypatch.setattr(delivery_module, "mount_table", lambda: table)
    with pytest.raises(DeliveryError) as unmounted:
        mounts.check("hot folder indigo", hot, os.stat(hot))
    assert str(unmounted.value) == (
        f"hot folder indigo ({hot}) is not mounted: the share mounted at {share}, which holds it, was seen mounted "
        f"and {share} is now a folder of the local disk, where the printer would never see a file; mount the share "
        "again"
    )
    assert str(share) in store.read_text().splitlines()  # (known across restarts)
    device = os.stat(tmp_path).st_dev
    dev = f"{os.major(device)}:{os.minor(device)}"
    bound = [Mount("/", "ext4", dev), Mount(str(share), "ext4", dev, root="/data/rip")]  # (mounted again)
    monkeypatch.setattr(delivery_module, "mount_table", lambda: bound)
    mounts.check("hot folder indigo", hot, os.stat(hot))


def test_a_share_fstab_lists_above_the_hot_folder_is_looked_at_though_never_seen_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review HA 1: README's own fstab line (//rip/hotfolders on /mnt/indigo, the hot folder
    /mnt/indigo/in), the share down when the daemon first started: never seen mounted, the local
    folder under the empty mount point got the job. A mount point fstab lists above it counts."""
    import spo_hotfolder.delivery as delivery_module

    share = tmp_path / "mnt" / "indigo"
    hot = share / "in"
    hot.mkdir(parents=True)
    fstab = tmp_path / "fstab"
    fstab.write_text(f"//rip/hotfolders {share} cifs credentials=/etc/samba/rip.cred,_netdev 0 0\n")
    mounts = MountPoints(fstab=fstab, store=tmp_path / "mount-points.txt")
    monkeypatch.setattr(delivery_module, "mount_table", lambda: [Mount("/", "ext4", "254:0")])
    with pytest.raises(DeliveryError) as unmounted:
        mounts.check("hot folder indigo", hot, os.stat(hot))
    assert f"{fstab} lists {share}, which holds it, as a mount point, and nothing is mounted there" in str(
        unmounted.value
    )
    device = os.stat(tmp_path).st_dev
    dev = f"{os.major(device)}:{os.minor(device)}"
    monkeypatch.setattr(
        delivery_module, "mount_table", lambda: [Mount("/", "ext4", dev), Mount(str(share), "ext4", dev, root="/x")]
    )
    mounts.check("hot folder indigo", hot, os.stat(hot))  # (mounted: a folder bound there)


@pytest.mark.parametrize("share_in_fstab", [True, False])
def test_a_share_mounted_below_a_mount_point_fstab_lists_holds_the_hot_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share_in_fstab: bool
) -> None:
    """Review HD 1: fstab lists a disk on /srv (not mounted: nofail, or noauto) and the share on
    /srv/rip (or it is mounted by hand or by autofs), the hot folder /srv/rip/in: with the share
    mounted, every delivery was refused "not mounted" for /srv, and the advice (mount /srv) would
    have hidden the share. What is mounted nearest above the folder holds it."""
    import spo_hotfolder.delivery as delivery_module

    srv = tmp_path / "srv"
    rip = srv / "rip"
    hot = rip / "in"
    hot.mkdir(parents=True)
    fstab = tmp_path / "fstab"
    lines = [f"UUID=aaaa-bbbb {srv} ext4 defaults,nofail 0 2"]
    if share_in_fstab:
        lines.append(f"//rip/hotfolders {rip} cifs _netdev 0 0")
    fstab.write_text("\n".join(lines) + "\n")
    mounts = MountPoints(fstab=fstab, store=tmp_path / "mount-points.txt")
    mounted = [Mount("/", "ext4", "254:0"), Mount(str(rip), "cifs", "0:77")]
    monkeypatch.setattr(delivery_module, "mount_table", lambda: mounted)
    mounts.check("hot folder indigo", hot, os.stat(hot))  # (delivered: the share holds it)
    # The share unmounted: the folder under /srv's empty mount point is refused, as before.
    monkeypatch.setattr(delivery_module, "mount_table", lambda: mounted[:1])
    with pytest.raises(DeliveryError) as unmounted:
        mounts.check("hot folder indigo", hot, os.stat(hot))
    nearest = rip if share_in_fstab else srv
    assert f"{fstab} lists {nearest}, which holds it, as a mount point, and nothing is mounted there" in str(
        unmounted.value
    )


def test_a_command_s_look_at_the_mounts_never_writes_the_daemon_s_store(tmp_path: Path) -> None:
    """(review HI) `check-config` and `init` look at the hot folders as the daemon would: run as root,
    a store they wrote would be root's, which the daemon's user could not replace."""
    hot = tmp_path / "indigo"
    hot.mkdir()
    store = tmp_path / "mount-points.txt"
    mounts = MountPoints(fstab=tmp_path / "no-fstab", store=store, keep=False)
    mounts.check("hot folder indigo", hot, _with_dev(hot, os.stat(tmp_path).st_dev + 1))  # (a share there)
    assert not store.exists()
    store.write_text(f"{hot}\n")  # (the daemon's, read)
    with pytest.raises(DeliveryError, match="is not mounted"):
        mounts.check("hot folder indigo", hot, os.stat(hot))
    assert store.read_text() == f"{hot}\n"
