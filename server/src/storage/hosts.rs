//! The hosts a database URL names, each tried on its own.
//!
//! tokio-postgres walks a URL's hosts in turn, but bounds each only while
//! its TCP connection opens (`connect_timeout`). A host that accepts the
//! connection and then answers nothing (a frozen server, a machine that
//! hangs) holds the walk for good: the hosts after it, the new primary
//! among them, are never tried, and no new connection opens until that
//! host answers again. libpq bounds the whole attempt on each host. So the
//! pool walks the hosts itself, one URL per host, bounding each attempt as
//! a whole, and tries first the host that last gave it a connection.

/// `url` once for each host it names, in its order, each naming only that
/// host; `url` alone when it names one host, or names its hosts in another
/// way (the `host` parameter).
pub fn one_url_per_host(url: &str) -> Vec<String> {
    let Some(scheme_end) = url.find("://").map(|at| at + "://".len()) else {
        return vec![url.to_owned()];
    };
    let authority_len = url[scheme_end..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - scheme_end);
    let authority = &url[scheme_end..scheme_end + authority_len];
    // The user and password end at the last '@': one inside them is
    // percent-encoded.
    let hosts_start = authority.rfind('@').map_or(0, |at| at + 1);
    let hosts = &authority[hosts_start..];
    if !hosts.contains(',') {
        return vec![url.to_owned()];
    }
    let before = &url[..scheme_end + hosts_start];
    let after = &url[scheme_end + authority_len..];
    hosts
        .split(',')
        .map(|host| format!("{before}{host}{after}"))
        .collect()
}

/// The order to try `count` hosts in: `first`, then the others in the
/// URL's order.
pub fn walk(first: usize, count: usize) -> impl Iterator<Item = usize> {
    let first = if first < count { first } else { 0 };
    std::iter::once(first).chain((0..count).filter(move |&index| index != first))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::one_host("postgres://u:p@db:5432/tickets", &["postgres://u:p@db:5432/tickets"])]
    #[case::three_hosts(
        "postgres://u:p@a:5431,b:5432,c/tickets?target_session_attrs=read-write&connect_timeout=2",
        &[
            "postgres://u:p@a:5431/tickets?target_session_attrs=read-write&connect_timeout=2",
            "postgres://u:p@b:5432/tickets?target_session_attrs=read-write&connect_timeout=2",
            "postgres://u:p@c/tickets?target_session_attrs=read-write&connect_timeout=2",
        ]
    )]
    #[case::no_user("postgresql://a,b/db", &["postgresql://a/db", "postgresql://b/db"])]
    #[case::no_path("postgres://a,b", &["postgres://a", "postgres://b"])]
    #[case::at_and_comma_in_password(
        "postgres://u:p%40q,r@a,b/db",
        &["postgres://u:p%40q,r@a/db", "postgres://u:p%40q,r@b/db"]
    )]
    #[case::ipv6("postgres://[::1]:5432,[::2]/db", &["postgres://[::1]:5432/db", "postgres://[::2]/db"])]
    #[case::hosts_as_a_parameter("postgres:///db?host=a,b", &["postgres:///db?host=a,b"])]
    #[case::not_a_url("host=a,b dbname=db", &["host=a,b dbname=db"])]
    fn each_host_gets_the_whole_url(#[case] url: &str, #[case] expected: &[&str]) {
        assert_eq!(one_url_per_host(url), expected);
    }

    #[rstest]
    #[case::from_the_first(0, 3, &[0, 1, 2])]
    #[case::from_the_last(2, 3, &[2, 0, 1])]
    #[case::from_the_middle(1, 3, &[1, 0, 2])]
    #[case::one_host(0, 1, &[0])]
    #[case::out_of_range(5, 2, &[0, 1])]
    fn the_host_that_served_last_is_tried_first(
        #[case] first: usize,
        #[case] count: usize,
        #[case] expected: &[usize],
    ) {
        assert_eq!(walk(first, count).collect::<Vec<_>>(), expected);
    }
}
