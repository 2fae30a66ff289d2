#include <stdio.h>
#include <wsclient.h>

int main(void)
{
    printf("opcode 1 is %s\n", ws_opcode_to_optype(1));         /* "text" */
    printf("ping is opcode %d\n", ws_optype_to_opcode("ping")); /* 9 */
    int32_t code = ws_reason_to_close_code("going-away");        /* 1001 */
    if (code < 0) {
        fprintf(stderr, "%s\n", ws_last_error_message());
        return 1;
    }
    const char *reason = ws_close_code_to_reason((uint16_t)code);
    printf("%d is %s\n", code, reason ? reason : "(no name)");
    return 0;
}
