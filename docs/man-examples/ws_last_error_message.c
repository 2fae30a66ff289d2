#include <stdio.h>
#include <wsclient.h>

/* Report a failed call: the code, its kind and the detail. */
void report(const char *what, int32_t rc)
{
    /* Copy or print the message before the next call on this thread. */
    fprintf(stderr, "%s: %s (%d): %s\n", what, ws_result_string(rc),
            ws_last_error_code(), ws_last_error_message());
    if (ws_result_is_fail(rc))
        fprintf(stderr, "the connection was failed with close code %u\n",
                ws_last_error_close_code());
}

int main(void)
{
    ws_conn *conn = NULL;
    int32_t rc = ws_connect("ws://localhost:8080/", NULL, &conn, NULL);
    if (rc != WS_OK) {
        report("connect", rc);
        /* A copy of your own stays valid whatever later calls do. */
        char why[256];
        if (ws_last_error_copy(why, sizeof why) >= sizeof why)
            fprintf(stderr, "(the message was cut)\n");
        fprintf(stderr, "kept: %s\n", why);
        return 1;
    }
    ws_message *msg = NULL;
    rc = ws_recv_message(conn, &msg);
    if (rc < 0) {
        report("receive", rc);
        /* The same detail, kept by the connection: */
        fprintf(stderr, "%s (close code %u)\n", ws_conn_errmsg(conn),
                ws_conn_error_close_code(conn));
        char kept[256]; /* a copy, whole even while other threads use conn */
        ws_conn_errmsg_copy(conn, kept, sizeof kept);
        fprintf(stderr, "kept: %s\n", kept);
    }
    ws_message_free(msg);
    ws_conn_free(conn);
    return rc < 0;
}
