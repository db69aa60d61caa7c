// FS#2733 and the default lists of a fresh installation, as plain data (the server applies it).

export const DEFAULT_SECTIONS = [
  { slug: 'email', name: 'Email', description: 'Inbound and outbound mail, mailboxes and forwardings' },
  { slug: 'webhosting', name: 'Web hosting', description: 'Web servers and PHP' },
  { slug: 'databases', name: 'Databases', description: 'MySQL and PostgreSQL' },
  { slug: 'dns', name: 'DNS', description: 'Authoritative name servers' },
  { slug: 'controlpanel', name: 'Control Panel', description: 'Customer control panel' },
] as const;

export const DEFAULT_TASK_TYPES = ['Upgrade', 'Maintenance', 'Incident', 'Announcement', 'Bug', 'Feature'] as const;
export const DEFAULT_STATUSES = ['New', 'Planned', 'In progress', 'Waiting', 'Monitoring'] as const;
export const DEFAULT_CLOSE_REASONS = ['Finished', 'Duplicate', 'Not a bug', "Won't fix", 'Cancelled'] as const;
/** The category tree: one root with one child per section. */
export const DEFAULT_CATEGORY_ROOT = 'All Services';
export const DEFAULT_CATEGORY_CHILDREN = ['Email', 'Web hosting', 'Databases', 'DNS', 'Control Panel'] as const;

/** The historical author of the seeded task. Has no password: nobody can log in as them. */
export const SEED_AUTHOR = { username: 'legacy-admin', displayName: 'Admin', role: 'admin' } as const;

const LONG_COMMENT = `We are going to rework the entire inbound mailsystem. The new mailsystem will have more scalability and much more power, fault tolerance and features compared to the old mailsystem.

Affected customers:
All customers with Forwarding Mails and/or Mailaccounts and/or Domains are affected.

Impact for customers:

* Before the activation of the new inbound mailsystem: no impact
* During the activation of the new inbound mailsystem: no impact (seamless change)
* After the full activation of the new inbound mailsystem and deactivation of the old mailsystem:
  * Change of the internal routing of mails (only headers affected)
  * Re-Activation of some selected inbound spam / antivirus policies for mail-alias
  * Rejection of mails that apply to selected inbound policy for mail alias
  * Activation of "no spam forwarding" - policy for all email-forwarding to external providers

deployment plan:

* development and test: until 12.10.2021
* deployment and parallel service new/old: 13.10.2021 - 20.10.2021
* deactivation of old inbound mailsystem: 21.10.2021

1.) Do I lose EMails during the deployment?

2.) Do I have a delay for delivery during the deployment?

3.) Do I have to do anything in Control Panel before, during or after the deployment?

4.) Do I get more or less spam / virus after the deployment?
This depends on your selected policy for your mail-alias. If you have selected "remove spam and virus" you will get less of these emails. No tagged EMails become delivered in future.
`;

export const FS2733 = {
  id: 2733,
  summary: 'Reworking / Scaling mailsystem inbound',
  details: 'We are going to rework the inbound mailsystem.',
  type: 'Upgrade',
  categoryPath: ['All Services', 'Email'],
  section: 'email',
  status: 'In progress',
  percent: 100,
  openedAt: '2021-10-08T00:00:00.000Z',
  closedAt: '2021-11-10T16:09:00.000Z',
  closeReason: 'Finished',
  lastEditedAt: '2021-11-10T16:09:00.000Z',
  comments: [
    { at: '2021-10-12T10:40:00.000Z', body: LONG_COMMENT },
    { at: '2021-10-13T14:40:00.000Z', body: 'The new mailsystem is now active.' },
    { at: '2021-11-10T16:09:00.000Z', body: 'Review done. Everything looks good.' },
  ],
  // Whole days in UTC; an end is the last millisecond of its day ("until 12.10.2021" includes the 12th).
  phases: [
    { title: 'development and test', startsAt: null, endsAt: '2021-10-12T23:59:59.999Z' },
    { title: 'deployment and parallel service new/old', startsAt: '2021-10-13T00:00:00.000Z', endsAt: '2021-10-20T23:59:59.999Z' },
    { title: 'deactivation of old inbound mailsystem', startsAt: '2021-10-21T00:00:00.000Z', endsAt: '2021-10-21T23:59:59.999Z' },
  ],
} as const;
