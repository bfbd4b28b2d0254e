/* test_mountinfo.c: which mount holds a path, and where a file in a
 * bind-mounted subdirectory (systemd's PrivateTmp=) is for everyone else,
 * from mountinfo text as the kernel writes it. */
#include <criterion/criterion.h>
#include <string.h>

#include "mountinfo.h"
#include "fixtures.h"

/* A unit with PrivateTmp=: /tmp and /var/tmp are directories of the root
 * filesystem (8:1) mounted over the real ones; /run is a tmpfs. */
static const char private_tmp[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "23 22 0:21 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,mode=755\n"
    "24 22 8:1 /tmp/systemd-private-ab12-netdemo@echo.service-Xy/tmp /tmp "
    "rw,relatime shared:30 - ext4 /dev/sda1 rw\n"
    "25 22 8:1 /var/tmp/systemd-private-ab12-netdemo@echo.service-Zq/tmp /var/tmp "
    "rw,relatime shared:31 - ext4 /dev/sda1 rw\n"
    "26 23 0:21 /netdemo /run/netdemo\\040dir rw - tmpfs tmpfs rw\n";

Test(mountinfo, finds_the_longest_mount_point)
{
    struct nd_mount m;

    cr_assert_eq(nd_mount_find(private_tmp, strlen(private_tmp), "/tmp/x.sock", &m), 0);
    cr_assert_str_eq(m.point, "/tmp");
    cr_assert_str_eq(m.dev, "8:1");
    cr_assert_str_eq(m.root, "/tmp/systemd-private-ab12-netdemo@echo.service-Xy/tmp");
    cr_assert_eq(nd_mount_find(private_tmp, strlen(private_tmp), "/run/netdemo/e.sock", &m), 0);
    cr_assert_str_eq(m.point, "/run");
    cr_assert_eq(nd_mount_find(private_tmp, strlen(private_tmp), "/tmpfoo/x", &m), 0);
    cr_assert_str_eq(m.point, "/", "a prefix that is not a directory boundary");
    /* Escapes are undone: "\040" is a space. */
    cr_assert_eq(nd_mount_find(private_tmp, strlen(private_tmp), "/run/netdemo dir/s", &m), 0);
    cr_assert_str_eq(m.point, "/run/netdemo dir");
    cr_assert_str_eq(m.root, "/netdemo");
}

Test(mountinfo, stacked_mounts_the_last_wins)
{
    static const char t[] =
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "2 1 0:30 / /tmp rw - tmpfs tmpfs rw\n"
        "3 1 0:30 /private /tmp rw - tmpfs tmpfs rw\n";
    struct nd_mount m;

    cr_assert_eq(nd_mount_find(t, strlen(t), "/tmp/a", &m), 0);
    cr_assert_str_eq(m.root, "/private");
}

Test(mountinfo, outside_through_a_whole_mount_of_the_same_filesystem)
{
    char out[512];

    cr_assert_eq(nd_mount_outside(private_tmp, strlen(private_tmp), "/tmp/x.sock", out,
                                  sizeof(out)), 1);
    cr_assert_str_eq(out, "/tmp/systemd-private-ab12-netdemo@echo.service-Xy/tmp/x.sock");
    cr_assert_eq(nd_mount_outside(private_tmp, strlen(private_tmp), "/var/tmp/d/y", out,
                                  sizeof(out)), 1);
    cr_assert_str_eq(out, "/var/tmp/systemd-private-ab12-netdemo@echo.service-Zq/tmp/d/y");
    /* /run/netdemo dir is /netdemo of the tmpfs mounted whole at /run. */
    cr_assert_eq(nd_mount_outside(private_tmp, strlen(private_tmp), "/run/netdemo dir/s",
                                  out, sizeof(out)), 1);
    cr_assert_str_eq(out, "/run/netdemo/s");
}

Test(mountinfo, where_it_says_or_unknown)
{
    static const char lone[] =
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "2 1 0:40 /sub /srv/x rw - xfs /dev/sdb rw";    /* no final newline */
    char out[512] = "untouched";

    cr_assert_eq(nd_mount_outside(private_tmp, strlen(private_tmp), "/run/netdemo/e.sock",
                                  out, sizeof(out)), 0);
    cr_assert_eq(nd_mount_outside(private_tmp, strlen(private_tmp), "/home/a", out,
                                  sizeof(out)), 0);
    cr_assert_eq(nd_mount_outside(private_tmp, strlen(private_tmp), "relative", out,
                                  sizeof(out)), 0);
    cr_assert_str_eq(out, "untouched");
    /* Nothing mounts 0:40 whole: its own root and the device. */
    cr_assert_eq(nd_mount_outside(lone, strlen(lone), "/srv/x/s.sock", out, sizeof(out)), 1);
    cr_assert_str_eq(out, "/sub/s.sock on device 0:40");
    cr_assert_eq(nd_mount_find("", 0, "/x", &(struct nd_mount){ 0 }), -1);
    cr_assert_eq(nd_mount_find("garbage\n\n", 9, "/x", &(struct nd_mount){ 0 }), -1);
}
