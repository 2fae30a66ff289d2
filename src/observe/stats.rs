//! Counters and connect timings: what `ws_conn_stat` reads (curl's
//! `curl_easy_getinfo`). Each stat is a number whose constant never changes;
//! new ones get new constants.

use std::time::Duration;

/// The stats, numbered as the C API's `WS_STAT_*` constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Stat {
    /// WebSocket bytes read from the connection (frames, headers included;
    /// after TLS, after the opening handshake).
    BytesIn = 1,
    /// WebSocket bytes the socket took.
    BytesOut = 2,
    /// Data bytes of the messages (or data frames) received, after
    /// inflating.
    PayloadIn = 3,
    /// Data bytes of the messages sent, before compressing.
    PayloadOut = 4,
    FramesIn = 5,
    /// Frames queued for the socket (control frames included).
    FramesOut = 6,
    MessagesIn = 7,
    MessagesOut = 8,
    /// Pings we queued (the caller's and the keepalive's).
    PingsSent = 9,
    PongsReceived = 10,
    /// The round trip of the last ping answered, in microseconds (0: none).
    RttLastUs = 11,
    /// The smoothed round trip (RFC 6298's 1/8 weighting), microseconds.
    RttSmoothedUs = 12,
    /// From the start of the connect until the name was resolved, in
    /// microseconds (0 when nothing was looked up), as curl's
    /// `CURLINFO_NAMELOOKUP_TIME_T`.
    TimeResolveUs = 20,
    /// ... until TCP was connected (to the proxy, when there is one).
    TimeConnectUs = 21,
    /// ... until the proxy's tunnel was open (0 without a proxy).
    TimeProxyUs = 22,
    /// ... until the TLS handshake finished (0 for ws://).
    TimeTlsUs = 23,
    /// ... until the server's 101 arrived.
    TimeHttpUs = 24,
    /// ... until the WebSocket was open.
    TimeTotalUs = 25,
    /// Redirects followed on the way.
    Redirects = 26,
}

impl Stat {
    pub const ALL: [Stat; 19] = [
        Stat::BytesIn,
        Stat::BytesOut,
        Stat::PayloadIn,
        Stat::PayloadOut,
        Stat::FramesIn,
        Stat::FramesOut,
        Stat::MessagesIn,
        Stat::MessagesOut,
        Stat::PingsSent,
        Stat::PongsReceived,
        Stat::RttLastUs,
        Stat::RttSmoothedUs,
        Stat::TimeResolveUs,
        Stat::TimeConnectUs,
        Stat::TimeProxyUs,
        Stat::TimeTlsUs,
        Stat::TimeHttpUs,
        Stat::TimeTotalUs,
        Stat::Redirects,
    ];

    pub fn from_i32(n: i32) -> Option<Stat> {
        Stat::ALL.into_iter().find(|s| *s as i32 == n)
    }

    /// A short name, the same in every binding ("bytes_in").
    pub fn name(self) -> &'static str {
        match self {
            Stat::BytesIn => "bytes_in",
            Stat::BytesOut => "bytes_out",
            Stat::PayloadIn => "payload_in",
            Stat::PayloadOut => "payload_out",
            Stat::FramesIn => "frames_in",
            Stat::FramesOut => "frames_out",
            Stat::MessagesIn => "messages_in",
            Stat::MessagesOut => "messages_out",
            Stat::PingsSent => "pings_sent",
            Stat::PongsReceived => "pongs_received",
            Stat::RttLastUs => "rtt_last_us",
            Stat::RttSmoothedUs => "rtt_smoothed_us",
            Stat::TimeResolveUs => "time_resolve_us",
            Stat::TimeConnectUs => "time_connect_us",
            Stat::TimeProxyUs => "time_proxy_us",
            Stat::TimeTlsUs => "time_tls_us",
            Stat::TimeHttpUs => "time_http_us",
            Stat::TimeTotalUs => "time_total_us",
            Stat::Redirects => "redirects",
        }
    }
}

/// The counters a session keeps (frames are counted where they are parsed
/// and queued, and added when read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub payload_in: u64,
    pub payload_out: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub pings_sent: u64,
    pub pongs_received: u64,
    pub rtt_last: Option<Duration>,
    pub rtt_smoothed: Option<Duration>,
}

impl Stats {
    /// A pong answered our ping after `rtt`.
    pub fn on_rtt(&mut self, rtt: Duration) {
        self.rtt_last = Some(rtt);
        self.rtt_smoothed = Some(match self.rtt_smoothed {
            None => rtt,
            Some(s) => (s * 7 + rtt) / 8,
        });
    }
}

/// When each step of the connect ended, from its start (the last hop's
/// steps after a redirect; the total covers every hop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    pub resolve: Option<Duration>,
    pub connect: Option<Duration>,
    pub proxy: Option<Duration>,
    pub tls: Option<Duration>,
    pub http: Option<Duration>,
    pub total: Option<Duration>,
    pub redirects: u32,
}

/// A stat's value from the counters and the timings.
pub fn read(stat: Stat, s: &Stats, t: &Timings) -> u64 {
    let us =
        |d: Option<Duration>| d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    match stat {
        Stat::BytesIn => s.bytes_in,
        Stat::BytesOut => s.bytes_out,
        Stat::PayloadIn => s.payload_in,
        Stat::PayloadOut => s.payload_out,
        Stat::FramesIn => s.frames_in,
        Stat::FramesOut => s.frames_out,
        Stat::MessagesIn => s.messages_in,
        Stat::MessagesOut => s.messages_out,
        Stat::PingsSent => s.pings_sent,
        Stat::PongsReceived => s.pongs_received,
        Stat::RttLastUs => us(s.rtt_last),
        Stat::RttSmoothedUs => us(s.rtt_smoothed),
        Stat::TimeResolveUs => us(t.resolve),
        Stat::TimeConnectUs => us(t.connect),
        Stat::TimeProxyUs => us(t.proxy),
        Stat::TimeTlsUs => us(t.tls),
        Stat::TimeHttpUs => us(t.http),
        Stat::TimeTotalUs => us(t.total),
        Stat::Redirects => u64::from(t.redirects),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smoothed_rtt_weighs_each_sample_an_eighth() {
        let mut s = Stats::default();
        s.on_rtt(Duration::from_micros(800));
        assert_eq!(s.rtt_smoothed, Some(Duration::from_micros(800)));
        s.on_rtt(Duration::from_micros(1600));
        assert_eq!(s.rtt_last, Some(Duration::from_micros(1600)));
        assert_eq!(s.rtt_smoothed, Some(Duration::from_micros(900)));
    }

    #[test]
    fn stats_round_trip_and_have_distinct_names() {
        let mut names = std::collections::HashSet::new();
        for s in Stat::ALL {
            assert_eq!(Stat::from_i32(s as i32), Some(s));
            assert!(names.insert(s.name()));
        }
        assert_eq!(Stat::from_i32(0), None);
    }
}
