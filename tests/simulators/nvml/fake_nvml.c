/*
 * SIMULATED NVML for tests — not NVIDIA's library.
 *
 * A stand-in libnvidia-ml.so.1 for machines without an NVIDIA GPU (CI, Molecule nodes). The real
 * nvidia-ml-py bindings (pynvml) load it by its soname, so a process started with LD_LIBRARY_PATH
 * pointing at the build directory sees the GPUs described by a JSON profile:
 * $GPUFLEET_SIM_GPU_PROFILE if set, else /etc/gpufleet-sim/gpus.json. The profile schema and the
 * behaviour are described in tests/simulators/README.md.
 *
 * Only the entry points the collection uses exist. A value the profile leaves out (null or absent)
 * answers NVML_ERROR_NOT_SUPPORTED, as a real GPU does for a feature it lacks. Struct layouts follow the
 * public NVML headers as mirrored by pynvml's ctypes definitions. libc only; the JSON parser is our own.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_API __attribute__((visibility("default")))

#define SIM_DEFAULT_PROFILE "/etc/gpufleet-sim/gpus.json"
#define SIM_PROFILE_ENV "GPUFLEET_SIM_GPU_PROFILE"
#define SIM_MAX_PROFILE_BYTES (16u * 1024u * 1024u)
#define SIM_MAX_JSON_DEPTH 64
#define SIM_MAX_XIDS 16
#define SIM_EVENT_SETS 8
#define SIM_EVENT_GPUS 64

/* ------------------------------------------------------------------------------------------------ */
/* NVML types and constants (values from the public API)                                              */
/* ------------------------------------------------------------------------------------------------ */

typedef int nvmlReturn_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_UNKNOWN = 999
};

enum { NVML_TEMPERATURE_GPU = 0, NVML_TEMPERATURE_COUNT = 2 };
enum { NVML_CLOCK_GRAPHICS = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2, NVML_CLOCK_VIDEO = 3, SIM_CLOCK_COUNT = 4 };
enum { NVML_VOLATILE_ECC = 0, NVML_AGGREGATE_ECC = 1, SIM_ECC_COUNTER_COUNT = 2 };
enum { NVML_MEMORY_ERROR_TYPE_CORRECTED = 0, NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1, SIM_ECC_TYPE_COUNT = 2 };
enum { NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS = 0, NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR = 1 };

/* NVML_STRUCT_VERSION(name, n) = sizeof(struct) | n << 24 */
#define SIM_NVML_MEMORY_V2 0x02000028u

#define SIM_NAME_BUFFER 96   /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define SIM_UUID_BUFFER 96   /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define SIM_SERIAL_BUFFER 30 /* NVML_DEVICE_SERIAL_BUFFER_SIZE */
#define SIM_VERSION_BUFFER 80 /* NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE, ..._NVML_VERSION_... */

struct sim_gpu;
typedef struct sim_gpu *nvmlDevice_t;

/* nvmlPciInfo_t as taken by nvmlDeviceGetPciInfo_v2/_v3 */
typedef struct {
    char busIdLegacy[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

/* the original layout, still taken by the unversioned nvmlDeviceGetPciInfo */
typedef struct {
    char busId[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    unsigned int reserved[4];
} sim_pci_info_v1_t;

typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

/* ------------------------------------------------------------------------------------------------ */
/* A small JSON reader (RFC 8259): builds a tree, reports line and column of the first error          */
/* ------------------------------------------------------------------------------------------------ */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value;

struct json_member {
    char *key;
    struct json_value *value;
};

struct json_value {
    enum json_type type;
    int boolean;
    int is_integer;     /* written without fraction or exponent, and fits a long long */
    long long integer;
    char *string;
    size_t count;
    struct json_value **items;   /* JSON_ARRAY */
    struct json_member *members; /* JSON_OBJECT */
};

struct json_reader {
    const char *text;
    size_t length;
    size_t pos;
    int depth;
    int failed;
    size_t error_pos;
    char error[128];
};

static void json_free(struct json_value *value)
{
    size_t i;

    if (!value)
        return;
    free(value->string);
    for (i = 0; value->type == JSON_ARRAY && i < value->count; i++)
        json_free(value->items[i]);
    for (i = 0; value->type == JSON_OBJECT && i < value->count; i++) {
        free(value->members[i].key);
        json_free(value->members[i].value);
    }
    free(value->items);
    free(value->members);
    free(value);
}

__attribute__((format(printf, 2, 3))) static void json_fail(struct json_reader *r, const char *fmt, ...)
{
    va_list args;

    if (r->failed)
        return;
    r->failed = 1;
    r->error_pos = r->pos;
    va_start(args, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, args);
    va_end(args);
}

static void json_skip_space(struct json_reader *r)
{
    while (r->pos < r->length) {
        char c = r->text[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        r->pos++;
    }
}

static int json_peek(const struct json_reader *r)
{
    return r->pos < r->length ? (unsigned char)r->text[r->pos] : -1;
}

static void json_fail_unexpected(struct json_reader *r, const char *expected)
{
    int c = json_peek(r);

    if (c < 0)
        json_fail(r, "expected %s, found end of file", expected);
    else if (c >= 0x20 && c < 0x7f)
        json_fail(r, "expected %s, found '%c'", expected, c);
    else
        json_fail(r, "expected %s, found byte 0x%02X", expected, (unsigned)c);
}

static struct json_value *json_new(enum json_type type)
{
    struct json_value *value = calloc(1, sizeof(*value));

    if (value)
        value->type = type;
    return value;
}

static int json_hex4(struct json_reader *r, unsigned *out)
{
    unsigned code = 0;
    int i;

    for (i = 0; i < 4; i++) {
        int c = json_peek(r);
        code <<= 4;
        if (c >= '0' && c <= '9')
            code |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            code |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            code |= (unsigned)(c - 'A' + 10);
        else {
            json_fail(r, "invalid \\u escape in string");
            return -1;
        }
        r->pos++;
    }
    *out = code;
    return 0;
}

/* Appends code point cp as UTF-8; buf has room (a JSON escape is never shorter than its UTF-8). */
static size_t json_put_utf8(char *buf, unsigned cp)
{
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At the opening quote; returns a NUL-terminated UTF-8 copy of the string. */
static char *json_read_string(struct json_reader *r)
{
    size_t start = ++r->pos, end = start, used = 0;
    char *out;

    /* the decoded string is never longer than its source: find the end first, then decode */
    while (end < r->length && r->text[end] != '"')
        end += (r->text[end] == '\\' && end + 1 < r->length) ? 2 : 1;
    out = malloc(end - start + 1);
    if (!out) {
        json_fail(r, "out of memory");
        return NULL;
    }
    for (;;) {
        int c = json_peek(r);
        if (c < 0) {
            json_fail(r, "unterminated string");
            break;
        }
        r->pos++;
        if (c == '"') {
            out[used] = '\0';
            return out;
        }
        if (c < 0x20) {
            r->pos--;
            json_fail(r, "control character in string");
            break;
        }
        if (c != '\\') {
            out[used++] = (char)c;
            continue;
        }
        c = json_peek(r);
        r->pos++;
        switch (c) {
        case '"': out[used++] = '"'; break;
        case '\\': out[used++] = '\\'; break;
        case '/': out[used++] = '/'; break;
        case 'b': out[used++] = '\b'; break;
        case 'f': out[used++] = '\f'; break;
        case 'n': out[used++] = '\n'; break;
        case 'r': out[used++] = '\r'; break;
        case 't': out[used++] = '\t'; break;
        case 'u': {
            unsigned cp, low;
            if (json_hex4(r, &cp) < 0)
                goto fail;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (json_peek(r) != '\\' || r->pos + 1 >= r->length || r->text[r->pos + 1] != 'u') {
                    json_fail(r, "unpaired surrogate in string");
                    goto fail;
                }
                r->pos += 2;
                if (json_hex4(r, &low) < 0)
                    goto fail;
                if (low < 0xDC00 || low > 0xDFFF) {
                    json_fail(r, "unpaired surrogate in string");
                    goto fail;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                json_fail(r, "unpaired surrogate in string");
                goto fail;
            }
            if (cp == 0) {
                json_fail(r, "\\u0000 in string is not supported");
                goto fail;
            }
            used += json_put_utf8(out + used, cp);
            break;
        }
        default:
            r->pos--;
            json_fail(r, "invalid escape in string");
            goto fail;
        }
    }
fail:
    free(out);
    return NULL;
}

static int json_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static struct json_value *json_read_number(struct json_reader *r)
{
    struct json_value *value;
    int negative = 0, overflow = 0, integral = 1;
    unsigned long long magnitude = 0;

    if (json_peek(r) == '-') {
        negative = 1;
        r->pos++;
    }
    if (!json_is_digit(json_peek(r))) {
        json_fail_unexpected(r, "a digit");
        return NULL;
    }
    if (json_peek(r) == '0') {
        r->pos++;
        if (json_is_digit(json_peek(r))) {
            json_fail(r, "leading zero in number");
            return NULL;
        }
    } else {
        while (json_is_digit(json_peek(r))) {
            unsigned digit = (unsigned)(json_peek(r) - '0');
            if (magnitude > (ULLONG_MAX - digit) / 10)
                overflow = 1;
            else
                magnitude = magnitude * 10 + digit;
            r->pos++;
        }
    }
    if (json_peek(r) == '.') {
        integral = 0;
        r->pos++;
        if (!json_is_digit(json_peek(r))) {
            json_fail_unexpected(r, "a digit after '.'");
            return NULL;
        }
        while (json_is_digit(json_peek(r)))
            r->pos++;
    }
    if (json_peek(r) == 'e' || json_peek(r) == 'E') {
        integral = 0;
        r->pos++;
        if (json_peek(r) == '+' || json_peek(r) == '-')
            r->pos++;
        if (!json_is_digit(json_peek(r))) {
            json_fail_unexpected(r, "a digit in the exponent");
            return NULL;
        }
        while (json_is_digit(json_peek(r)))
            r->pos++;
    }
    value = json_new(JSON_NUMBER);
    if (!value) {
        json_fail(r, "out of memory");
        return NULL;
    }
    if (integral && !overflow) {
        if (!negative && magnitude <= (unsigned long long)LLONG_MAX) {
            value->is_integer = 1;
            value->integer = (long long)magnitude;
        } else if (negative && magnitude <= (unsigned long long)LLONG_MAX + 1ull) {
            value->is_integer = 1;
            value->integer = magnitude == (unsigned long long)LLONG_MAX + 1ull ? LLONG_MIN : -(long long)magnitude;
        }
    }
    return value;
}

static int json_match_word(struct json_reader *r, const char *word)
{
    size_t n = strlen(word);

    if (r->length - r->pos < n || memcmp(r->text + r->pos, word, n) != 0)
        return 0;
    r->pos += n;
    return 1;
}

static struct json_value *json_read_value(struct json_reader *r);

static struct json_value *json_read_array(struct json_reader *r, struct json_value *array)
{
    size_t capacity = 0;

    r->pos++; /* '[' */
    json_skip_space(r);
    if (json_peek(r) == ']') {
        r->pos++;
        return array;
    }
    for (;;) {
        struct json_value *item;
        json_skip_space(r);
        item = json_read_value(r);
        if (!item)
            return NULL;
        if (array->count == capacity) {
            size_t grown = capacity ? capacity * 2 : 8;
            struct json_value **items = realloc(array->items, grown * sizeof(*items));
            if (!items) {
                json_free(item);
                json_fail(r, "out of memory");
                return NULL;
            }
            array->items = items;
            capacity = grown;
        }
        array->items[array->count++] = item;
        json_skip_space(r);
        if (json_peek(r) == ',') {
            r->pos++;
            continue;
        }
        if (json_peek(r) == ']') {
            r->pos++;
            return array;
        }
        json_fail_unexpected(r, "',' or ']'");
        return NULL;
    }
}

static struct json_value *json_read_object(struct json_reader *r, struct json_value *object)
{
    size_t capacity = 0;

    r->pos++; /* '{' */
    json_skip_space(r);
    if (json_peek(r) == '}') {
        r->pos++;
        return object;
    }
    for (;;) {
        char *key;
        struct json_value *member;
        json_skip_space(r);
        if (json_peek(r) != '"') {
            json_fail_unexpected(r, "a member name in double quotes");
            return NULL;
        }
        key = json_read_string(r);
        if (!key)
            return NULL;
        json_skip_space(r);
        if (json_peek(r) != ':') {
            free(key);
            json_fail_unexpected(r, "':'");
            return NULL;
        }
        r->pos++;
        json_skip_space(r);
        member = json_read_value(r);
        if (!member) {
            free(key);
            return NULL;
        }
        if (object->count == capacity) {
            size_t grown = capacity ? capacity * 2 : 8;
            struct json_member *members = realloc(object->members, grown * sizeof(*members));
            if (!members) {
                free(key);
                json_free(member);
                json_fail(r, "out of memory");
                return NULL;
            }
            object->members = members;
            capacity = grown;
        }
        object->members[object->count].key = key;
        object->members[object->count].value = member;
        object->count++;
        json_skip_space(r);
        if (json_peek(r) == ',') {
            r->pos++;
            continue;
        }
        if (json_peek(r) == '}') {
            r->pos++;
            return object;
        }
        json_fail_unexpected(r, "',' or '}'");
        return NULL;
    }
}

static struct json_value *json_read_value(struct json_reader *r)
{
    struct json_value *value = NULL;
    int c = json_peek(r);

    if (c == '{' || c == '[') {
        if (++r->depth > SIM_MAX_JSON_DEPTH) {
            json_fail(r, "nested deeper than %d levels", SIM_MAX_JSON_DEPTH);
            return NULL;
        }
        value = json_new(c == '{' ? JSON_OBJECT : JSON_ARRAY);
        if (!value) {
            json_fail(r, "out of memory");
            return NULL;
        }
        if (!(c == '{' ? json_read_object(r, value) : json_read_array(r, value))) {
            json_free(value);
            return NULL;
        }
        r->depth--;
        return value;
    }
    if (c == '"') {
        char *s = json_read_string(r);
        if (!s)
            return NULL;
        value = json_new(JSON_STRING);
        if (!value) {
            free(s);
            json_fail(r, "out of memory");
            return NULL;
        }
        value->string = s;
        return value;
    }
    if (c == '-' || json_is_digit(c))
        return json_read_number(r);
    if (json_match_word(r, "true")) {
        value = json_new(JSON_BOOL);
        if (value)
            value->boolean = 1;
    } else if (json_match_word(r, "false")) {
        value = json_new(JSON_BOOL);
    } else if (json_match_word(r, "null")) {
        value = json_new(JSON_NULL);
    } else {
        json_fail_unexpected(r, "a JSON value");
        return NULL;
    }
    if (!value)
        json_fail(r, "out of memory");
    return value;
}

/* Parses a whole document; on failure writes "line L column C: reason" into error. */
static struct json_value *json_parse(const char *text, size_t length, char *error, size_t error_size)
{
    struct json_reader r;
    struct json_value *root;
    size_t i, line = 1, column = 1;

    memset(&r, 0, sizeof(r));
    r.text = text;
    r.length = length;
    json_skip_space(&r);
    root = json_read_value(&r);
    if (root) {
        json_skip_space(&r);
        if (r.pos < r.length)
            json_fail_unexpected(&r, "end of file after the top-level value");
    }
    if (!r.failed)
        return root;
    json_free(root);
    for (i = 0; i < r.error_pos && i < length; i++) {
        if (text[i] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    snprintf(error, error_size, "line %zu column %zu: %s", line, column, r.error);
    return NULL;
}

/* The last member named key (later duplicates win, as in most JSON readers), or NULL. */
static const struct json_value *json_get(const struct json_value *object, const char *key)
{
    size_t i;

    if (!object || object->type != JSON_OBJECT)
        return NULL;
    for (i = object->count; i > 0; i--)
        if (strcmp(object->members[i - 1].key, key) == 0)
            return object->members[i - 1].value;
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ */
/* The simulated fleet, loaded from the profile                                                       */
/* ------------------------------------------------------------------------------------------------ */

struct sim_value {
    int present; /* 0: null or absent in the profile → NVML_ERROR_NOT_SUPPORTED */
    unsigned long long value;
};

struct sim_gpu {
    unsigned int index;
    char name[SIM_NAME_BUFFER];
    char uuid[SIM_UUID_BUFFER];
    char serial[SIM_SERIAL_BUFFER];
    int has_serial;
    char bus_id[32];        /* canonical form, 00000000:01:00.0 */
    char bus_id_legacy[16]; /* 0000:01:00.0 */
    unsigned int pci_domain, pci_bus, pci_device, pci_function;
    struct sim_value pci_device_id, pci_subsystem_id;
    struct sim_value memory_total_mib, memory_used_mib;
    struct sim_value cc_major, cc_minor;
    struct sim_value temperature_c;
    struct sim_value power_draw_mw, power_limit_mw;
    struct sim_value clocks_mhz[SIM_CLOCK_COUNT], max_clocks_mhz[SIM_CLOCK_COUNT];
    struct sim_value clock_event_reasons;
    struct sim_value ecc_current, ecc_pending;
    struct sim_value ecc_errors[SIM_ECC_COUNTER_COUNT][SIM_ECC_TYPE_COUNT];
    struct sim_value retired_sbe, retired_dbe, retired_pending;
    struct sim_value remap_corrected, remap_uncorrected, remap_pending, remap_failure;
    struct sim_value mig_current, mig_pending;
    struct sim_value persistence_mode;
    struct sim_value util_gpu, util_memory;
    struct sim_value pcie_gen, pcie_max_gen, pcie_width, pcie_max_width;
    /* "xid_events": critical Xids the simulated GPU reports to every event set registered for them, each once;
     * absent or null: the GPU cannot deliver events (nvmlDeviceRegisterEvents answers NOT_SUPPORTED) */
    int xid_supported;
    unsigned int xid_count;
    unsigned long long xids[SIM_MAX_XIDS];
};

struct sim_system {
    char driver_version[SIM_VERSION_BUFFER];
    int has_driver_version;
    char nvml_version[SIM_VERSION_BUFFER];
    int has_nvml_version;
    struct sim_value cuda_driver_version;
    unsigned int gpu_count;
    struct sim_gpu *gpus;
};

static pthread_mutex_t sim_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int sim_refcount; /* nvmlInit* calls not yet matched by nvmlShutdown */
static struct sim_system sim;

struct profile_loader {
    char error[256];
};

__attribute__((format(printf, 2, 3))) static int loader_fail(struct profile_loader *ld, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(ld->error, sizeof(ld->error), fmt, args);
    va_end(args);
    return -1;
}

/* An optional non-negative integer no larger than max; a boolean counts as 0/1 where allow_bool. */
static int load_number(struct profile_loader *ld, const struct json_value *object, const char *where,
                       const char *key, unsigned long long max, int allow_bool, struct sim_value *out)
{
    const struct json_value *v = json_get(object, key);

    out->present = 0;
    out->value = 0;
    if (!v || v->type == JSON_NULL)
        return 0;
    if (allow_bool && v->type == JSON_BOOL) {
        out->present = 1;
        out->value = v->boolean ? 1 : 0;
        return 0;
    }
    if (v->type != JSON_NUMBER || !v->is_integer || v->integer < 0 || (unsigned long long)v->integer > max)
        return loader_fail(ld, "%s%s%s: expected %s from 0 to %llu, or null", where, *where ? "." : "", key,
                           allow_bool ? "true, false or an integer" : "an integer", max);
    out->present = 1;
    out->value = (unsigned long long)v->integer;
    return 0;
}

static int load_uint(struct profile_loader *ld, const struct json_value *object, const char *where, const char *key,
                     struct sim_value *out)
{
    return load_number(ld, object, where, key, UINT_MAX, 0, out);
}

static int load_flag(struct profile_loader *ld, const struct json_value *object, const char *where, const char *key,
                     struct sim_value *out)
{
    return load_number(ld, object, where, key, 1, 1, out);
}

/* An optional nested object: NULL when null or absent, an error for any other type. */
static int load_section(struct profile_loader *ld, const struct json_value *object, const char *where, const char *key,
                        const struct json_value **out)
{
    const struct json_value *v = json_get(object, key);

    *out = NULL;
    if (!v || v->type == JSON_NULL)
        return 0;
    if (v->type != JSON_OBJECT)
        return loader_fail(ld, "%s.%s: expected an object or null", where, key);
    *out = v;
    return 0;
}

/* Copies a string member into buf; required members must be present and non-empty. */
static int load_string(struct profile_loader *ld, const struct json_value *object, const char *where, const char *key,
                       int required, char *buf, size_t size, int *present)
{
    const struct json_value *v = json_get(object, key);

    if (present)
        *present = 0;
    if (!v || v->type == JSON_NULL) {
        if (required)
            return loader_fail(ld, "%s%s%s: required string is missing", where, *where ? "." : "", key);
        return 0;
    }
    if (v->type != JSON_STRING || (required && !v->string[0]))
        return loader_fail(ld, "%s%s%s: expected a%s string", where, *where ? "." : "", key,
                           required ? " non-empty" : "");
    if (strlen(v->string) >= size)
        return loader_fail(ld, "%s%s%s: longer than %zu characters", where, *where ? "." : "", key, size - 1);
    memcpy(buf, v->string, strlen(v->string) + 1);
    if (present)
        *present = 1;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads 1..max_digits hex digits at *s into *out, advancing *s. */
static int read_hex_field(const char **s, int max_digits, unsigned int *out)
{
    unsigned long value = 0;
    int digits = 0;

    while (hex_digit(**s) >= 0) {
        if (++digits > max_digits)
            return -1;
        value = value * 16 + (unsigned long)hex_digit(**s);
        (*s)++;
    }
    if (!digits)
        return -1;
    *out = (unsigned int)value;
    return 0;
}

/*
 * [domain:]bus:device.function, hexadecimal, as NVML prints PCI addresses (a profile's pci_bus_id).
 */
static int parse_pci_bus_id(const char *text, unsigned int *domain, unsigned int *bus, unsigned int *device,
                            unsigned int *function)
{
    const char *s = text;
    unsigned int fields[3];
    int count = 0;

    for (;;) {
        if (count == 3 || read_hex_field(&s, count == 0 ? 8 : 2, &fields[count]) < 0)
            return -1;
        count++;
        if (*s != ':')
            break;
        s++;
    }
    if (count < 2)
        return -1;
    if (count == 3 && hex_digit(text[0]) >= 0) {
        *domain = fields[0];
        *bus = fields[1];
        *device = fields[2];
    } else if (count == 2) {
        *domain = 0;
        *bus = fields[0];
        *device = fields[1];
    } else {
        return -1;
    }
    if (*bus > 0xFF || *device > 0x1F)
        return -1;
    if (*s != '.' || s[1] < '0' || s[1] > '7')
        return -1;
    *function = (unsigned int)(s[1] - '0');
    return s[2] == '\0' ? 0 : -1;
}

static int load_gpu(struct profile_loader *ld, const struct json_value *g, unsigned int index, struct sim_gpu *gpu)
{
    static const char *const clock_keys[SIM_CLOCK_COUNT] = {"graphics", "sm", "mem", "video"};
    static const char *const counter_keys[SIM_ECC_COUNTER_COUNT] = {"volatile", "aggregate"};
    static const char *const type_keys[SIM_ECC_TYPE_COUNT] = {"corrected", "uncorrected"};
    char where[64], sub[96], bus_id_text[64];
    const struct json_value *section, *cc;
    int i, j;

    snprintf(where, sizeof(where), "gpus[%u]", index);
    if (g->type != JSON_OBJECT)
        return loader_fail(ld, "%s: expected an object", where);
    gpu->index = index;
    if (load_string(ld, g, where, "name", 1, gpu->name, sizeof(gpu->name), NULL) ||
        load_string(ld, g, where, "uuid", 1, gpu->uuid, sizeof(gpu->uuid), NULL) ||
        load_string(ld, g, where, "serial", 0, gpu->serial, sizeof(gpu->serial), &gpu->has_serial) ||
        load_string(ld, g, where, "pci_bus_id", 1, bus_id_text, sizeof(bus_id_text), NULL))
        return -1;
    if (parse_pci_bus_id(bus_id_text, &gpu->pci_domain, &gpu->pci_bus, &gpu->pci_device, &gpu->pci_function) < 0)
        return loader_fail(ld, "%s.pci_bus_id: expected domain:bus:device.function such as 00000000:01:00.0", where);
    snprintf(gpu->bus_id, sizeof(gpu->bus_id), "%08X:%02X:%02X.%X", gpu->pci_domain, gpu->pci_bus & 0xFFu,
             gpu->pci_device & 0x1Fu, gpu->pci_function & 0x7u);
    snprintf(gpu->bus_id_legacy, sizeof(gpu->bus_id_legacy), "%04X:%02X:%02X.%X", gpu->pci_domain & 0xFFFFu,
             gpu->pci_bus & 0xFFu, gpu->pci_device & 0x1Fu, gpu->pci_function & 0x7u);

    if (load_uint(ld, g, where, "pci_device_id", &gpu->pci_device_id) ||
        load_uint(ld, g, where, "pci_subsystem_id", &gpu->pci_subsystem_id) ||
        load_uint(ld, g, where, "memory_total_mib", &gpu->memory_total_mib) ||
        load_uint(ld, g, where, "memory_used_mib", &gpu->memory_used_mib) ||
        load_uint(ld, g, where, "temperature_c", &gpu->temperature_c) ||
        load_uint(ld, g, where, "power_draw_mw", &gpu->power_draw_mw) ||
        load_uint(ld, g, where, "power_limit_mw", &gpu->power_limit_mw) ||
        load_number(ld, g, where, "clock_event_reasons", (unsigned long long)LLONG_MAX, 0, &gpu->clock_event_reasons) ||
        load_flag(ld, g, where, "persistence_mode", &gpu->persistence_mode))
        return -1;
    if (gpu->memory_total_mib.present && gpu->memory_used_mib.present &&
        gpu->memory_used_mib.value > gpu->memory_total_mib.value)
        return loader_fail(ld, "%s.memory_used_mib: larger than memory_total_mib", where);

    cc = json_get(g, "compute_capability");
    if (cc && cc->type != JSON_NULL) {
        if (cc->type != JSON_ARRAY || cc->count != 2 || cc->items[0]->type != JSON_NUMBER ||
            cc->items[1]->type != JSON_NUMBER || !cc->items[0]->is_integer || !cc->items[1]->is_integer ||
            cc->items[0]->integer < 0 || cc->items[0]->integer > INT_MAX || cc->items[1]->integer < 0 ||
            cc->items[1]->integer > INT_MAX)
            return loader_fail(ld, "%s.compute_capability: expected [major, minor] or null", where);
        gpu->cc_major.present = gpu->cc_minor.present = 1;
        gpu->cc_major.value = (unsigned long long)cc->items[0]->integer;
        gpu->cc_minor.value = (unsigned long long)cc->items[1]->integer;
    }

    if (load_section(ld, g, where, "clocks_mhz", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.clocks_mhz", where);
    for (i = 0; section && i < SIM_CLOCK_COUNT; i++)
        if (load_uint(ld, section, sub, clock_keys[i], &gpu->clocks_mhz[i]))
            return -1;
    if (load_section(ld, g, where, "max_clocks_mhz", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.max_clocks_mhz", where);
    for (i = 0; section && i < SIM_CLOCK_COUNT; i++)
        if (load_uint(ld, section, sub, clock_keys[i], &gpu->max_clocks_mhz[i]))
            return -1;

    if (load_section(ld, g, where, "ecc_mode", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.ecc_mode", where);
    if (section && (load_flag(ld, section, sub, "current", &gpu->ecc_current) ||
                    load_flag(ld, section, sub, "pending", &gpu->ecc_pending)))
        return -1;

    if (load_section(ld, g, where, "ecc_errors", &section))
        return -1;
    for (i = 0; section && i < SIM_ECC_COUNTER_COUNT; i++) {
        const struct json_value *counter;
        snprintf(sub, sizeof(sub), "%s.ecc_errors", where);
        if (load_section(ld, section, sub, counter_keys[i], &counter))
            return -1;
        snprintf(sub, sizeof(sub), "%s.ecc_errors.%s", where, counter_keys[i]);
        for (j = 0; counter && j < SIM_ECC_TYPE_COUNT; j++)
            if (load_number(ld, counter, sub, type_keys[j], (unsigned long long)LLONG_MAX, 0, &gpu->ecc_errors[i][j]))
                return -1;
    }

    if (load_section(ld, g, where, "retired_pages", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.retired_pages", where);
    /* the page count is bounded so that the simulated page addresses stay distinct */
    if (section && (load_number(ld, section, sub, "single_bit_ecc", 4096, 0, &gpu->retired_sbe) ||
                    load_number(ld, section, sub, "double_bit_ecc", 4096, 0, &gpu->retired_dbe) ||
                    load_flag(ld, section, sub, "pending", &gpu->retired_pending)))
        return -1;

    if (load_section(ld, g, where, "row_remap", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.row_remap", where);
    if (section && (load_uint(ld, section, sub, "corrected", &gpu->remap_corrected) ||
                    load_uint(ld, section, sub, "uncorrected", &gpu->remap_uncorrected) ||
                    load_flag(ld, section, sub, "pending", &gpu->remap_pending) ||
                    load_flag(ld, section, sub, "failure", &gpu->remap_failure)))
        return -1;

    if (load_section(ld, g, where, "mig_mode", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.mig_mode", where);
    if (section && (load_flag(ld, section, sub, "current", &gpu->mig_current) ||
                    load_flag(ld, section, sub, "pending", &gpu->mig_pending)))
        return -1;

    if (load_section(ld, g, where, "utilization", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.utilization", where);
    if (section && (load_number(ld, section, sub, "gpu", 100, 0, &gpu->util_gpu) ||
                    load_number(ld, section, sub, "memory", 100, 0, &gpu->util_memory)))
        return -1;

    if (load_section(ld, g, where, "pcie", &section))
        return -1;
    snprintf(sub, sizeof(sub), "%s.pcie", where);
    if (section && (load_uint(ld, section, sub, "gen", &gpu->pcie_gen) ||
                    load_uint(ld, section, sub, "max_gen", &gpu->pcie_max_gen) ||
                    load_uint(ld, section, sub, "width", &gpu->pcie_width) ||
                    load_uint(ld, section, sub, "max_width", &gpu->pcie_max_width)))
        return -1;

    section = json_get(g, "xid_events");
    if (section && section->type != JSON_NULL) {
        size_t k;
        if (section->type != JSON_ARRAY || section->count > SIM_MAX_XIDS)
            return loader_fail(ld, "%s.xid_events: expected a list of at most %d Xid numbers, or null", where,
                               SIM_MAX_XIDS);
        for (k = 0; k < section->count; k++) {
            const struct json_value *xid = section->items[k];
            if (xid->type != JSON_NUMBER || !xid->is_integer || xid->integer < 0 || xid->integer > 65535)
                return loader_fail(ld, "%s.xid_events[%zu]: expected an Xid number from 0 to 65535", where, k);
            gpu->xids[k] = (unsigned long long)xid->integer;
        }
        gpu->xid_count = (unsigned int)section->count;
        gpu->xid_supported = 1;
    }
    return 0;
}

static void sim_release(struct sim_system *s)
{
    free(s->gpus);
    memset(s, 0, sizeof(*s));
}

static int load_system(struct profile_loader *ld, const struct json_value *root, struct sim_system *s)
{
    const struct json_value *gpus;
    size_t i;

    if (load_string(ld, root, "", "driver_version", 0, s->driver_version, sizeof(s->driver_version),
                    &s->has_driver_version) ||
        load_string(ld, root, "", "nvml_version", 0, s->nvml_version, sizeof(s->nvml_version),
                    &s->has_nvml_version) ||
        load_number(ld, root, "", "cuda_driver_version", INT_MAX, 0, &s->cuda_driver_version))
        return -1;
    gpus = json_get(root, "gpus");
    if (!gpus || gpus->type != JSON_ARRAY)
        return loader_fail(ld, "gpus: expected an array of GPU objects");
    if (gpus->count > 1024)
        return loader_fail(ld, "gpus: more than 1024 GPUs");
    s->gpus = calloc(gpus->count ? gpus->count : 1, sizeof(*s->gpus));
    if (!s->gpus)
        return loader_fail(ld, "out of memory");
    s->gpu_count = (unsigned int)gpus->count;
    for (i = 0; i < gpus->count; i++)
        if (load_gpu(ld, gpus->items[i], (unsigned int)i, &s->gpus[i]))
            return -1;
    return 0;
}

static void report_profile_error(const char *path, const char *reason)
{
    fprintf(stderr, "libnvidia-ml.so.1 (SIMULATED): cannot load GPU profile %s: %s\n", path, reason);
}

/* Reads an open file into an exactly sized buffer (so that the JSON reader cannot stray past the text). */
static int read_whole_file(FILE *file, char **text, size_t *length, char *error, size_t error_size)
{
    size_t capacity = 4096, used = 0;
    char *buf = malloc(capacity);

    for (;;) {
        size_t got;
        if (!buf) {
            snprintf(error, error_size, "out of memory");
            return -1;
        }
        got = fread(buf + used, 1, capacity - used, file);
        used += got;
        if (ferror(file)) {
            snprintf(error, error_size, "read error: %s", strerror(errno));
            free(buf);
            return -1;
        }
        if (used > SIM_MAX_PROFILE_BYTES) {
            snprintf(error, error_size, "larger than %u bytes", SIM_MAX_PROFILE_BYTES);
            free(buf);
            return -1;
        }
        if (got == 0 || feof(file))
            break;
        if (used == capacity) {
            char *grown = realloc(buf, capacity * 2);
            if (!grown)
                free(buf);
            buf = grown;
            capacity *= 2;
        }
    }
    *text = realloc(buf, used ? used : 1); /* shrink to the text itself */
    if (!*text)
        *text = buf;
    *length = used;
    return 0;
}

/* Reads the profile into sim. A missing file is a host without the kernel driver. */
static nvmlReturn_t load_profile(void)
{
    const char *path = getenv(SIM_PROFILE_ENV);
    struct profile_loader ld;
    struct json_value *root = NULL;
    const struct json_value *driver_loaded;
    char *text = NULL, parse_error[200];
    size_t length = 0;
    FILE *file;
    nvmlReturn_t rc = NVML_ERROR_UNKNOWN;

    if (!path || !*path)
        path = SIM_DEFAULT_PROFILE;
    memset(&ld, 0, sizeof(ld));
    file = fopen(path, "rb");
    if (!file) {
        if (errno == ENOENT || errno == ENOTDIR)
            return NVML_ERROR_DRIVER_NOT_LOADED;
        report_profile_error(path, strerror(errno));
        return NVML_ERROR_UNKNOWN;
    }
    if (read_whole_file(file, &text, &length, ld.error, sizeof(ld.error)) < 0) {
        /* ld.error says why */
    } else if (memchr(text, '\0', length)) {
        snprintf(ld.error, sizeof(ld.error), "contains a NUL byte, not JSON text");
    } else if (!(root = json_parse(text, length, parse_error, sizeof(parse_error)))) {
        snprintf(ld.error, sizeof(ld.error), "invalid JSON: %s", parse_error);
    } else if (root->type != JSON_OBJECT) {
        snprintf(ld.error, sizeof(ld.error), "expected a JSON object at the top level");
    } else {
        driver_loaded = json_get(root, "driver_loaded");
        if (driver_loaded && driver_loaded->type != JSON_BOOL && driver_loaded->type != JSON_NULL) {
            snprintf(ld.error, sizeof(ld.error), "driver_loaded: expected true or false");
        } else if (driver_loaded && driver_loaded->type == JSON_BOOL && !driver_loaded->boolean) {
            rc = NVML_ERROR_DRIVER_NOT_LOADED;
        } else if (load_system(&ld, root, &sim) == 0) {
            rc = NVML_SUCCESS;
        } else {
            sim_release(&sim);
        }
    }
    fclose(file);
    free(text);
    json_free(root);
    if (rc == NVML_ERROR_UNKNOWN)
        report_profile_error(path, ld.error);
    return rc;
}

/* ------------------------------------------------------------------------------------------------ */
/* Library state                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

static nvmlReturn_t sim_init(void)
{
    nvmlReturn_t rc = NVML_SUCCESS;

    pthread_mutex_lock(&sim_lock);
    if (sim_refcount == 0)
        rc = load_profile();
    if (rc == NVML_SUCCESS)
        sim_refcount++;
    pthread_mutex_unlock(&sim_lock);
    return rc;
}

/* Every call below runs under the lock, so that a concurrent final nvmlShutdown cannot free its data. */
static nvmlReturn_t lock_system(void)
{
    pthread_mutex_lock(&sim_lock);
    if (sim_refcount == 0) {
        pthread_mutex_unlock(&sim_lock);
        return NVML_ERROR_UNINITIALIZED;
    }
    return NVML_SUCCESS;
}

static nvmlReturn_t lock_device(nvmlDevice_t device, const struct sim_gpu **gpu)
{
    nvmlReturn_t rc = lock_system();
    uintptr_t offset;

    if (rc != NVML_SUCCESS)
        return rc;
    /* a handle is the address of an entry of the current GPU table; anything else is rejected */
    offset = (uintptr_t)device - (uintptr_t)sim.gpus;
    if (!device || (uintptr_t)device < (uintptr_t)sim.gpus || offset % sizeof(struct sim_gpu) != 0 ||
        offset / sizeof(struct sim_gpu) >= sim.gpu_count) {
        pthread_mutex_unlock(&sim_lock);
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    *gpu = device;
    return NVML_SUCCESS;
}

static nvmlReturn_t unlock_with(nvmlReturn_t rc)
{
    pthread_mutex_unlock(&sim_lock);
    return rc;
}

static nvmlReturn_t put_uint(const struct sim_value *v, unsigned int *out)
{
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!v->present)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = (unsigned int)v->value;
    return NVML_SUCCESS;
}

static nvmlReturn_t put_int(const struct sim_value *v, int *out)
{
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!v->present)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = (int)v->value;
    return NVML_SUCCESS;
}

static nvmlReturn_t put_ull(const struct sim_value *v, unsigned long long *out)
{
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!v->present)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = v->value;
    return NVML_SUCCESS;
}

static nvmlReturn_t put_string(const char *value, int present, char *buf, unsigned int length)
{
    size_t n;

    if (!buf)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!present)
        return NVML_ERROR_NOT_SUPPORTED;
    n = strlen(value);
    if (length < n + 1)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, value, n + 1);
    return NVML_SUCCESS;
}

static nvmlReturn_t device_uint(nvmlDevice_t device, size_t offset, unsigned int *out)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_uint((const struct sim_value *)((const char *)gpu + offset), out));
}

#define DEVICE_UINT(device, field, out) device_uint((device), offsetof(struct sim_gpu, field), (out))

/* ------------------------------------------------------------------------------------------------ */
/* Exported NVML entry points                                                                         */
/* ------------------------------------------------------------------------------------------------ */

SIM_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags; /* NVML_INIT_FLAG_NO_GPUS / _NO_ATTACH change nothing for a simulated fleet */
    return sim_init();
}

SIM_API nvmlReturn_t nvmlInit_v2(void)
{
    return sim_init();
}

SIM_API nvmlReturn_t nvmlInit(void)
{
    return sim_init();
}

SIM_API nvmlReturn_t nvmlShutdown(void)
{
    pthread_mutex_lock(&sim_lock);
    if (sim_refcount == 0)
        return unlock_with(NVML_ERROR_UNINITIALIZED);
    if (--sim_refcount == 0)
        sim_release(&sim);
    return unlock_with(NVML_SUCCESS);
}

SIM_API const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "vGPU operation not available while ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    default: return "Unknown Error";
    }
}

SIM_API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    nvmlReturn_t rc = lock_system();

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_string(sim.driver_version, sim.has_driver_version, version, length));
}

SIM_API nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    nvmlReturn_t rc = lock_system();

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_string(sim.nvml_version, sim.has_nvml_version, version, length));
}

SIM_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    nvmlReturn_t rc = lock_system();

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_int(&sim.cuda_driver_version, cudaDriverVersion));
}

SIM_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}

SIM_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    nvmlReturn_t rc = lock_system();

    if (rc != NVML_SUCCESS)
        return rc;
    if (!deviceCount)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    *deviceCount = sim.gpu_count;
    return unlock_with(NVML_SUCCESS);
}

SIM_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
    return nvmlDeviceGetCount_v2(deviceCount);
}

SIM_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    nvmlReturn_t rc = lock_system();

    if (rc != NVML_SUCCESS)
        return rc;
    if (!device || index >= sim.gpu_count)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    *device = &sim.gpus[index];
    return unlock_with(NVML_SUCCESS);
}

SIM_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

SIM_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_string(gpu->name, 1, name, length));
}

SIM_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_string(gpu->uuid, 1, uuid, length));
}

SIM_API nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_string(gpu->serial, gpu->has_serial, serial, length));
}

static nvmlReturn_t fill_pci_info(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!pci)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    memset(pci, 0, sizeof(*pci));
    memcpy(pci->busIdLegacy, gpu->bus_id_legacy, sizeof(pci->busIdLegacy));
    memcpy(pci->busId, gpu->bus_id, sizeof(pci->busId));
    pci->domain = gpu->pci_domain;
    pci->bus = gpu->pci_bus;
    pci->device = gpu->pci_device;
    pci->pciDeviceId = (unsigned int)gpu->pci_device_id.value;
    pci->pciSubSystemId = (unsigned int)gpu->pci_subsystem_id.value;
    return unlock_with(NVML_SUCCESS);
}

SIM_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return fill_pci_info(device, pci);
}

SIM_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return fill_pci_info(device, pci);
}

SIM_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, sim_pci_info_v1_t *pci)
{
    nvmlPciInfo_t full;
    nvmlReturn_t rc;

    if (!pci)
        return fill_pci_info(device, NULL); /* the same checks, in the same order */
    rc = fill_pci_info(device, &full);
    if (rc != NVML_SUCCESS)
        return rc;
    /* the old, smaller struct: writing the new layout into it would run past the caller's buffer */
    memset(pci, 0, sizeof(*pci));
    memcpy(pci->busId, full.busIdLegacy, sizeof(pci->busId));
    pci->domain = full.domain;
    pci->bus = full.bus;
    pci->device = full.device;
    pci->pciDeviceId = full.pciDeviceId;
    pci->pciSubSystemId = full.pciSubSystemId;
    return NVML_SUCCESS;
}

static int memory_supported(const struct sim_gpu *gpu)
{
    return gpu->memory_total_mib.present && gpu->memory_used_mib.present;
}

SIM_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!memory)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    if (!memory_supported(gpu))
        return unlock_with(NVML_ERROR_NOT_SUPPORTED);
    memory->total = gpu->memory_total_mib.value * 1048576ull;
    memory->used = gpu->memory_used_mib.value * 1048576ull;
    memory->free = memory->total - memory->used;
    return unlock_with(NVML_SUCCESS);
}

SIM_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!memory)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    if (memory->version != SIM_NVML_MEMORY_V2)
        return unlock_with(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    if (!memory_supported(gpu))
        return unlock_with(NVML_ERROR_NOT_SUPPORTED);
    memory->total = gpu->memory_total_mib.value * 1048576ull;
    memory->reserved = 0; /* the profile has no reserved figure; used + free == total */
    memory->used = gpu->memory_used_mib.value * 1048576ull;
    memory->free = memory->total - memory->used;
    return unlock_with(NVML_SUCCESS);
}

static nvmlReturn_t temperature_of(const struct sim_gpu *gpu, int sensor, unsigned int *out)
{
    if (sensor < 0 || sensor >= NVML_TEMPERATURE_COUNT || !out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (sensor != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_NOT_SUPPORTED;
    return put_uint(&gpu->temperature_c, out);
}

SIM_API nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensorType, unsigned int *temp)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(temperature_of(gpu, sensorType, temp));
}

SIM_API nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    return DEVICE_UINT(device, power_draw_mw, power);
}

SIM_API nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
    return DEVICE_UINT(device, power_limit_mw, limit);
}

SIM_API nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
    return DEVICE_UINT(device, power_limit_mw, limit);
}

static nvmlReturn_t clock_of(nvmlDevice_t device, int type, int maximum, unsigned int *clock)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    if (type < 0 || type >= SIM_CLOCK_COUNT)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    return unlock_with(put_uint(maximum ? &gpu->max_clocks_mhz[type] : &gpu->clocks_mhz[type], clock));
}

SIM_API nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
    return clock_of(device, type, 0, clock);
}

SIM_API nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
    return clock_of(device, type, 1, clock);
}

SIM_API nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_ull(&gpu->clock_event_reasons, reasons));
}

SIM_API nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons)
{
    /* the older name of the same query */
    return nvmlDeviceGetCurrentClocksEventReasons(device, reasons);
}

static nvmlReturn_t put_pair(const struct sim_value *a, const struct sim_value *b, unsigned int *out_a,
                             unsigned int *out_b)
{
    if (!out_a || !out_b)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!a->present || !b->present)
        return NVML_ERROR_NOT_SUPPORTED;
    *out_a = (unsigned int)a->value;
    *out_b = (unsigned int)b->value;
    return NVML_SUCCESS;
}

SIM_API nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, int *current, int *pending)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    /* nvmlEnableState_t is an int-sized enum */
    return unlock_with(put_pair(&gpu->ecc_current, &gpu->ecc_pending, (unsigned int *)current,
                                (unsigned int *)pending));
}

SIM_API nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, int errorType, int counterType,
                                                 unsigned long long *eccCounts)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    if (errorType < 0 || errorType >= SIM_ECC_TYPE_COUNT || counterType < 0 || counterType >= SIM_ECC_COUNTER_COUNT)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    return unlock_with(put_ull(&gpu->ecc_errors[counterType][errorType], eccCounts));
}

/*
 * Count-query protocol: *pageCount is the caller's buffer size in; the number of pages out. Too small a
 * buffer (0 and NULL to ask) gives NVML_ERROR_INSUFFICIENT_SIZE with the needed count.
 */
static nvmlReturn_t retired_pages(nvmlDevice_t device, int cause, unsigned int *pageCount,
                                  unsigned long long *addresses, unsigned long long *timestamps, int want_timestamps)
{
    const struct sim_gpu *gpu;
    const struct sim_value *pages;
    nvmlReturn_t rc = lock_device(device, &gpu);
    unsigned int i, n;

    if (rc != NVML_SUCCESS)
        return rc;
    if (!pageCount)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    if (cause == NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS)
        pages = &gpu->retired_sbe;
    else if (cause == NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR)
        pages = &gpu->retired_dbe;
    else
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    if (!pages->present)
        return unlock_with(NVML_ERROR_NOT_SUPPORTED);
    n = (unsigned int)pages->value;
    if (*pageCount < n) {
        *pageCount = n;
        return unlock_with(NVML_ERROR_INSUFFICIENT_SIZE);
    }
    if (n > 0 && (!addresses || (want_timestamps && !timestamps)))
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < n; i++) {
        /* made-up but stable and distinct page addresses, per GPU and cause */
        addresses[i] = 0x100000000ull + ((unsigned long long)gpu->index << 28) + ((unsigned long long)cause << 24) +
                       (unsigned long long)i * 0x1000ull;
        if (want_timestamps)
            timestamps[i] = 1700000000ull + (unsigned long long)i * 3600ull;
    }
    *pageCount = n;
    return unlock_with(NVML_SUCCESS);
}

SIM_API nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, int cause, unsigned int *pageCount,
                                               unsigned long long *addresses)
{
    return retired_pages(device, cause, pageCount, addresses, NULL, 0);
}

SIM_API nvmlReturn_t nvmlDeviceGetRetiredPages_v2(nvmlDevice_t device, int cause, unsigned int *pageCount,
                                                  unsigned long long *addresses, unsigned long long *timestamps)
{
    return retired_pages(device, cause, pageCount, addresses, timestamps, 1);
}

SIM_API nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, int *isPending)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_int(&gpu->retired_pending, isPending));
}

SIM_API nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                               unsigned int *isPending, unsigned int *failureOccurred)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!corrRows || !uncRows || !isPending || !failureOccurred)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    if (!gpu->remap_corrected.present || !gpu->remap_uncorrected.present || !gpu->remap_pending.present ||
        !gpu->remap_failure.present)
        return unlock_with(NVML_ERROR_NOT_SUPPORTED);
    *corrRows = (unsigned int)gpu->remap_corrected.value;
    *uncRows = (unsigned int)gpu->remap_uncorrected.value;
    *isPending = (unsigned int)gpu->remap_pending.value;
    *failureOccurred = (unsigned int)gpu->remap_failure.value;
    return unlock_with(NVML_SUCCESS);
}

SIM_API nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_pair(&gpu->mig_current, &gpu->mig_pending, currentMode, pendingMode));
}

SIM_API nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, int *mode)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_int(&gpu->persistence_mode, mode));
}

SIM_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!utilization)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    return unlock_with(put_pair(&gpu->util_gpu, &gpu->util_memory, &utilization->gpu, &utilization->memory));
}

SIM_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen)
{
    return DEVICE_UINT(device, pcie_gen, currLinkGen);
}

SIM_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGen)
{
    return DEVICE_UINT(device, pcie_max_gen, maxLinkGen);
}

SIM_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth)
{
    return DEVICE_UINT(device, pcie_width, currLinkWidth);
}

SIM_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int *maxLinkWidth)
{
    return DEVICE_UINT(device, pcie_max_width, maxLinkWidth);
}

SIM_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    const struct sim_gpu *gpu;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    return unlock_with(put_pair(&gpu->cc_major, &gpu->cc_minor, (unsigned int *)major, (unsigned int *)minor));
}

/* ------------------------------------------------------------------------------------------------ */
/* Events: critical Xids only, delivered from the profile's "xid_events" (SIMULATED)                 */
/* ------------------------------------------------------------------------------------------------ */

#define NVML_EVENT_TYPE_XID_CRITICAL_ERROR 0x8ull

struct sim_event_set {
    int in_use;
    unsigned long long mask[SIM_EVENT_GPUS];
    unsigned int next[SIM_EVENT_GPUS]; /* the next of the GPU's Xids this set delivers */
};
typedef struct sim_event_set *nvmlEventSet_t;

/* nvmlEventData_t as pynvml's c_nvmlEventData_t mirrors it */
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlEventData_t;

static struct sim_event_set sim_event_sets[SIM_EVENT_SETS];

/* Called with sim_lock held: the set if set is one of ours and in use, else NULL. */
static struct sim_event_set *event_set(nvmlEventSet_t set)
{
    uintptr_t offset = (uintptr_t)set - (uintptr_t)sim_event_sets;

    if (!set || (uintptr_t)set < (uintptr_t)sim_event_sets || offset % sizeof(struct sim_event_set) != 0 ||
        offset / sizeof(struct sim_event_set) >= SIM_EVENT_SETS || !set->in_use)
        return NULL;
    return set;
}

SIM_API nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    nvmlReturn_t rc = lock_system();
    unsigned int i;

    if (rc != NVML_SUCCESS)
        return rc;
    if (!set)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < SIM_EVENT_SETS; i++) {
        if (!sim_event_sets[i].in_use) {
            memset(&sim_event_sets[i], 0, sizeof(sim_event_sets[i]));
            sim_event_sets[i].in_use = 1;
            *set = &sim_event_sets[i];
            return unlock_with(NVML_SUCCESS);
        }
    }
    return unlock_with(NVML_ERROR_MEMORY);
}

SIM_API nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)
{
    const struct sim_gpu *gpu;
    struct sim_event_set *events;
    nvmlReturn_t rc = lock_device(device, &gpu);

    if (rc != NVML_SUCCESS)
        return rc;
    events = event_set(set);
    if (!events)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    /* only critical Xids are simulated, and only on GPUs whose profile lists them (possibly none) */
    if (!gpu->xid_supported || gpu->index >= SIM_EVENT_GPUS || eventTypes != NVML_EVENT_TYPE_XID_CRITICAL_ERROR)
        return unlock_with(NVML_ERROR_NOT_SUPPORTED);
    events->mask[gpu->index] |= eventTypes;
    return unlock_with(NVML_SUCCESS);
}

/* Never blocks: the simulated GPUs have no events but the profile's, so an empty set times out at once. */
SIM_API nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
    struct sim_event_set *events;
    nvmlReturn_t rc = lock_system();
    unsigned int i;

    (void)timeoutms;
    if (rc != NVML_SUCCESS)
        return rc;
    events = event_set(set);
    if (!events || !data)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    for (i = 0; i < sim.gpu_count && i < SIM_EVENT_GPUS; i++) {
        const struct sim_gpu *gpu = &sim.gpus[i];
        if (!(events->mask[i] & NVML_EVENT_TYPE_XID_CRITICAL_ERROR) || events->next[i] >= gpu->xid_count)
            continue;
        data->device = (nvmlDevice_t)gpu;
        data->eventType = NVML_EVENT_TYPE_XID_CRITICAL_ERROR;
        data->eventData = gpu->xids[events->next[i]++];
        data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
        return unlock_with(NVML_SUCCESS);
    }
    return unlock_with(NVML_ERROR_TIMEOUT);
}

SIM_API nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    struct sim_event_set *events;
    nvmlReturn_t rc = lock_system();

    if (rc != NVML_SUCCESS)
        return rc;
    events = event_set(set);
    if (!events)
        return unlock_with(NVML_ERROR_INVALID_ARGUMENT);
    events->in_use = 0;
    return unlock_with(NVML_SUCCESS);
}
