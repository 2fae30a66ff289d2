#include <stdio.h>
#include <wsclient.h>

/* Send a large binary message in parts: blocking mode takes each whole part. */
int send_file(ws_conn *conn, FILE *file, uint64_t total)
{
    uint8_t buf[65536];
    uint64_t sent = 0;
    do {
        size_t len = fread(buf, 1, sizeof buf, file);
        size_t taken = 0;
        if (len == 0 && sent < total)
            return -1; /* the file is shorter than total */
        int32_t rc = ws_send_part(conn, WS_MESSAGE_BINARY, total, buf, len, 0, &taken);
        if (rc != WS_OK) {
            fprintf(stderr, "%s\n", ws_conn_errmsg(conn));
            return -1;
        }
        sent += taken;
    } while (sent < total);
    return 0;
}

int main(void)
{
    ws_conn *conn = NULL;
    FILE *file = fopen("data.bin", "rb");
    if (!file || fseek(file, 0, SEEK_END) != 0)
        return 1;
    long size = ftell(file);
    rewind(file);
    if (size < 0 || ws_connect("ws://localhost:8080/", NULL, &conn, NULL) != WS_OK)
        return 1;
    int rc = send_file(conn, file, (uint64_t)size);
    fclose(file);
    ws_conn_free(conn);
    return rc ? 1 : 0;
}
