//! orderhook-loadtest: signed webhooks in, deliveries counted out. Not built
//! yet; this binary only reserves the name and says so.

fn main() {
    eprintln!("orderhook-loadtest is not implemented yet");
    std::process::exit(2);
}
