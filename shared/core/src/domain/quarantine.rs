//! Spotting bots and spam among postbacks (pure).

use super::postback::Postback;

/// Fragments of user agents that belong to bots, crawlers, scripts and headless browsers (lower-case).
const BOT_USER_AGENTS: &[&str] = &[
    "bot",
    "spider",
    "crawl",
    "slurp",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww-perl",
    "apache-httpclient",
    "headlesschrome",
    "phantomjs",
    "selenium",
    "puppeteer",
    "playwright",
    "scrapy",
    "axios/",
    "node-fetch",
    "undici",
    "postmanruntime",
    "insomnia",
    "httpie",
    "guzzlehttp",
    "ruby",
    "powershell",
];

/// Whether a user agent names a bot, a crawler, a script or a headless browser.
pub fn is_bot_user_agent(user_agent: &str) -> bool {
    let ua = user_agent.to_lowercase();
    BOT_USER_AGENTS.iter().any(|b| ua.contains(b))
}

/// Why a postback looks like a bot, if it does: the honeypot field was filled, or a user agent names a bot.
/// `browser_user_agent` is the request's own `User-Agent` when the postback came straight from a browser (the
/// browser key); a server's own agent is a library and says nothing about the visitor, so it is not passed.
pub fn suspicion(pb: &Postback, browser_user_agent: Option<&str>) -> Option<&'static str> {
    if pb.honeypot {
        return Some("honeypot");
    }
    let agents = [browser_user_agent, pb.text.user_agent.as_deref()];
    agents
        .into_iter()
        .flatten()
        .any(is_bot_user_agent)
        .then_some("bot_user_agent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_are_spotted_and_browsers_are_not() {
        for bot in [
            "curl/8.5.0",
            "python-requests/2.31",
            "Mozilla/5.0 (compatible; Googlebot/2.1)",
            "Mozilla/5.0 HeadlessChrome/124",
        ] {
            assert!(is_bot_user_agent(bot), "{bot}");
        }
        let chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";
        assert!(!is_bot_user_agent(chrome));
        let pb = Postback {
            honeypot: true,
            ..Default::default()
        };
        assert_eq!(suspicion(&pb, Some(chrome)), Some("honeypot"));
        assert_eq!(
            suspicion(&Postback::default(), Some("curl/8")),
            Some("bot_user_agent")
        );
        assert_eq!(suspicion(&Postback::default(), Some(chrome)), None);
    }
}
