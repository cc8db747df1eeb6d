/*
 * Benchmark only (not part of pickupd): run the Debian spandsp library's
 * super_tone_rx (SAS 440 Hz and CAS 2130+2750 Hz patterns, as in
 * signals.md §9) plus dtmf_rx over the same synthetic input as the Rust
 * detector-bank bench, in 160-sample calls, channel by channel, and print the
 * cost per channel-second. Links against libspandsp; contains no spandsp code.
 *
 * Input: raw s16le, channel-major (all samples of channel 0, then channel 1,
 * ...), written by `cargo bench -p pickupd-dsp --bench bank` to
 * $TMPDIR/pickupd-bank-input.s16 (see README.md).
 *
 * Build: cc -O2 super_tone_bench.c -lspandsp -o /tmp/super_tone_bench
 * Run:   /tmp/super_tone_bench /tmp/pickupd-bank-input.s16 <channels> [repeats]
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <spandsp.h>

static long tone_events;
static long digits;

static void tone_cb(void *user_data, int code, int level, int delay)
{
    (void) user_data; (void) level; (void) delay;
    if (code >= 0)
        tone_events++;
}

static void digits_cb(void *user_data, const char *d, int len)
{
    (void) user_data; (void) d;
    digits += len;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s input.s16 channels [repeats]\n", argv[0]);
        return 2;
    }
    int channels = atoi(argv[2]);
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    FILE *f = fopen(argv[1], "rb");
    if (!f || channels <= 0) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *pcm = malloc(bytes);
    if (!pcm || fread(pcm, 1, bytes, f) != (size_t) bytes) {
        fprintf(stderr, "read failed\n");
        return 2;
    }
    fclose(f);
    long per_channel = bytes / 2 / channels;
    per_channel -= per_channel % 160;

    super_tone_rx_descriptor_t *desc = super_tone_rx_make_descriptor(NULL);
    int sas = super_tone_rx_add_tone(desc);
    super_tone_rx_add_element(desc, sas, 440, 0, 250, 350);
    super_tone_rx_add_element(desc, sas, 0, 0, 30, 2000);
    int cas = super_tone_rx_add_tone(desc);
    super_tone_rx_add_element(desc, cas, 2130, 2750, 40, 100);
    super_tone_rx_add_element(desc, cas, 0, 0, 30, 2000);

    super_tone_rx_state_t **st = calloc(channels, sizeof *st);
    dtmf_rx_state_t **dt = calloc(channels, sizeof *dt);
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        for (int c = 0; c < channels; c++) {
            st[c] = super_tone_rx_init(st[c], desc, tone_cb, NULL);
            dt[c] = dtmf_rx_init(dt[c], digits_cb, NULL);
        }
        tone_events = digits = 0;
        double t0 = now();
        /* Tick by tick, all channels per tick, like the bank. */
        for (long off = 0; off < per_channel; off += 160) {
            for (int c = 0; c < channels; c++) {
                const int16_t *x = pcm + (long) c * (bytes / 2 / channels) + off;
                super_tone_rx(st[c], x, 160);
                dtmf_rx(dt[c], x, 160);
            }
        }
        double dt_s = now() - t0;
        if (dt_s < best)
            best = dt_s;
    }
    double channel_seconds = (double) channels * per_channel / 8000.0;
    double ns_per_channel_second = best / channel_seconds * 1e9;
    printf("spandsp super_tone_rx(SAS+CAS)+dtmf_rx: %d channels x %.2f s, "
           "%.0f ns per channel-second = %.0f x real time per core "
           "(tone events %ld, digits %ld)\n",
           channels, per_channel / 8000.0, ns_per_channel_second,
           1e9 / ns_per_channel_second, tone_events, digits);
    printf("SPANDSP_CHANNELS_PER_CORE %.1f\n", 1e9 / ns_per_channel_second);
    return 0;
}
