// The real native host on a real domain: what gatehouse-host reports about identity and network
// on ws01 (joined to CORP.EXAMPLE through realmd/SSSD) and ws02 (never joined), spoken to over
// real pipes, as domain users resolved through SSSD or with their Kerberos tickets.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, test } from 'node:test';
import { askHost, commandOn, dc, domain, since, startHost } from './lib/domain.mjs';

const { alice, bob } = domain.users;

/** Asserts each expected field, naming the machine, the user and the fact that was wrong. */
function expectFacts(where, kind, actual, expected) {
  const wrong = Object.entries(expected)
    .filter(([k, v]) => (v instanceof RegExp ? !(typeof actual[k] === 'string' && v.test(actual[k])) : !Object.is(actual[k], v) && JSON.stringify(actual[k]) !== JSON.stringify(v)))
    .map(([k, v]) => `${kind}.${k} is ${JSON.stringify(actual[k])}, expected ${v instanceof RegExp ? v : JSON.stringify(v)}`);
  assert.deepEqual(wrong, [], `${where}: ${wrong.join('; ')}\nfull ${kind}: ${JSON.stringify(actual)}`);
}

/** What the system itself says, run the same way the host is (same machine, same user). */
function system(machine, user, argv, env = {}) {
  const [cmd, ...args] = commandOn(machine, user, argv);
  return execFileSync(cmd, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } }).trim();
}

after(async () => {
  // Leave the DC running for the next file even if a test failed half-way.
  await dc.start().catch(() => {});
});

test('ws01 as alice (SSSD domain user): joined to corp.example, FQDN, UPN principal', async () => {
  const t0 = Date.now();
  // The ground truth: SSSD resolves alice's uid to alice@corp.example on this machine.
  assert.equal(system('ws01', 'alice', ['id', '-un']), alice.upn, 'SSSD names the domain user');
  assert.equal(system('ws01', null, ['hostname', '-f']), 'ws01.corp.example');
  const id = await askHost('identity', {}, { machine: 'ws01', user: 'alice' });
  expectFacts('ws01 as alice', 'identity', id, {
    joined: true,
    domain: 'corp.example',
    machine: 'ws01',
    fqdn: 'ws01.corp.example',
    user: alice.upn,
    principal: 'alice@corp.example',
    // sssd.conf is root-only, so a user's host falls back to krb5.conf's realm + the machine keytab.
    source: /krb5\.conf default_realm \+ krb5\.keytab/,
  });
  console.log(`# timing: identity as alice ${since(t0)} ms`);
});

test('ws01 as bob: his own principal, not alice\'s', async () => {
  const id = await askHost('identity', {}, { machine: 'ws01', user: 'bob' });
  expectFacts('ws01 as bob', 'identity', id, {
    joined: true, domain: 'corp.example', fqdn: 'ws01.corp.example', user: bob.upn, principal: 'bob@corp.example',
  });
});

test('ws01 as root (a local account): joined, read from sssd.conf + keytab, no principal', async () => {
  const id = await askHost('identity', {}, { machine: 'ws01', user: null });
  expectFacts('ws01 as root', 'identity', id, {
    joined: true,
    domain: 'corp.example',
    machine: 'ws01',
    fqdn: 'ws01.corp.example',
    user: 'root',
    principal: null,
    source: 'sssd.conf (id_provider = ad) + krb5.keytab',
  });
});

test('ws01, a local account holding alice\'s Kerberos ticket: no principal (a ticket cache is its user\'s own file)', async () => {
  // The ticket `kinit alice@CORP.EXAMPLE` wrote at setup; klist is the ground truth. Any program
  // the user runs can write such a cache naming anyone, so it never names the desk's user.
  const klist = system('ws01', null, ['klist', '-c', `FILE:${alice.ccache}`]);
  assert.match(klist, /Default principal: alice@CORP\.EXAMPLE/, 'kinit gave alice a ticket');
  const id = await askHost('identity', {}, { machine: 'ws01', user: null, extraEnv: { KRB5CCNAME: `FILE:${alice.ccache}` } });
  expectFacts('ws01 as root with alice\'s ticket', 'identity', id, {
    joined: true, domain: 'corp.example', user: 'root', principal: null,
  });
});

test('ws01 as alice with her own ticket: the SSSD name still wins, same user', async () => {
  const id = await askHost('identity', {}, { machine: 'ws01', user: 'alice', extraEnv: { KRB5CCNAME: `FILE:${alice.ccache}` } });
  expectFacts('ws01 as alice with her ticket', 'identity', id, { principal: 'alice@corp.example', user: alice.upn });
});

test('ws01 on the internal network: the domain controllers are discoverable', async () => {
  const t0 = Date.now();
  assert.match(system('ws01', null, ['dig', '+short', '_ldap._tcp.dc._msdcs.corp.example', 'SRV']), /389 dc1\.corp\.example\./,
    'the DC publishes its SRV record');
  const net = await askHost('network', {}, { machine: 'ws01', user: 'alice' });
  expectFacts('ws01 as alice, DC running', 'network', net, {
    domainControllersDiscoverable: true,
    dnsSuffixes: ['corp.example'],
  });
  console.log(`# timing: network facts, DC running ${since(t0)} ms`);
});

test('ws01 with the domain controller stopped: not discoverable; still joined; back when it returns', async () => {
  const host = startHost({ machine: 'ws01', user: 'alice' });
  try {
    // One long-lived host process across the change, as with connectNative.
    expectFacts('ws01 before the stop', 'network', await host.request('network'), { domainControllersDiscoverable: true });
    let t0 = Date.now();
    await dc.stop();
    console.log(`# timing: DC stop ${since(t0)} ms`);
    t0 = Date.now();
    const off = await host.request('network');
    const offMs = since(t0);
    expectFacts('ws01 as alice, DC stopped', 'network', off, { domainControllersDiscoverable: false });
    assert.ok(offMs < 2000, `the network request answered within its budget (${offMs} ms)`);
    expectFacts('ws01 as alice, DC stopped', 'identity', await host.request('identity'), {
      joined: true, domain: 'corp.example', principal: 'alice@corp.example',
    });
    t0 = Date.now();
    await dc.start();
    console.log(`# timing: DC start ${since(t0)} ms`);
    expectFacts('ws01 as alice, DC started again', 'network', await host.request('network'), { domainControllersDiscoverable: true });
  } finally {
    const { code } = await host.close();
    assert.equal(code, 0, 'the host exits 0 at a clean end of input');
  }
});

test('ws02, never joined: reports exactly that, and asks no DC', async () => {
  assert.match(system('ws02', null, ['hostname']), /^ws02$/);
  const id = await askHost('identity', {}, { machine: 'ws02', user: null });
  expectFacts('ws02 (never joined)', 'identity', id, {
    joined: false,
    domain: null,
    principal: null,
    machine: 'ws02',
    fqdn: 'ws02.corp.example',
    source: /^not joined/,
  });
  // Same network as the DC (its DNS answers), but without a joined domain there is nothing to ask.
  assert.match(system('ws02', null, ['dig', '+short', '_ldap._tcp.dc._msdcs.corp.example', 'SRV']), /dc1/);
  const net = await askHost('network', {}, { machine: 'ws02', user: null });
  expectFacts('ws02 (never joined)', 'network', net, { domainControllersDiscoverable: null });
});
