//! `hyperion wordpress ...`: install WordPress on a hosting.

use hyperion_client::Client;
use hyperion_client::wire::model::{SecretString, WpInstallRequest};

use super::job_started;
use crate::Failure;
use crate::args::{Output, Wait};
use crate::login;

/// `wordpress ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Wordpress {
    /// Installs WordPress (a job); the admin password is read from stdin.
    Install {
        /// Id or domain.
        hosting: String,
        /// The site's URL.
        #[arg(long)]
        site_url: String,
        /// The site's title.
        #[arg(long)]
        title: String,
        /// The admin's user name.
        #[arg(long)]
        admin_user: String,
        /// The admin's e-mail address.
        #[arg(long)]
        admin_email: String,
        #[command(flatten)]
        wait: Wait,
    },
}

/// Runs `wordpress ...`.
pub(crate) async fn run(
    client: &Client,
    output: Output,
    command: Wordpress,
) -> Result<(), Failure> {
    match command {
        Wordpress::Install {
            hosting,
            site_url,
            title,
            admin_user,
            admin_email,
            wait,
        } => {
            let password = login::read_secret_line("admin password")?;
            let install = WpInstallRequest {
                site_url,
                title,
                admin_user,
                admin_email,
                admin_password: SecretString::new(password),
                locale: None,
            };
            let started = client.install_wordpress(&hosting, &install).await?;
            job_started(client, output, started, &wait).await
        }
    }
}
