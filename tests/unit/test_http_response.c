/* test_http_response.c: the status table (nd_http_reason): the reasons
 * netdemo sends, none for an unknown code, printable ASCII only. */
#include <criterion/criterion.h>

#include "../../src/http.h"

Test(http_response, status_table)
{
    cr_assert_str_eq(nd_http_reason(200), "OK");
    cr_assert_str_eq(nd_http_reason(418), "I'm a teapot");
    cr_assert_str_eq(nd_http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(nd_http_reason(505), "HTTP Version Not Supported");
    cr_assert_null(nd_http_reason(299));
    cr_assert_str_eq(nd_http_reason(101), "Switching Protocols");
    for (int s = 200; s < 600; s++) {
        const char *r = nd_http_reason(s);

        if (r)
            for (const char *p = r; *p; p++)
                cr_assert(*p >= 0x20 && *p < 0x7f, "reason of %d", s);
    }
}
