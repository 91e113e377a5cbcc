// An independent authorization server for warden's interop test: oidc-provider
// (https://github.com/panva/node-oidc-provider) on 127.0.0.1, with a client
// credentials client whose access tokens are opaque, RFC 7662 introspection,
// RFC 9701 signed introspection responses and RFC 7009 revocation.
//
// Environment: PORT (default 0: any free port), WARDEN_RS_JWK (the public
// JWK of warden's private_key_jwt client, optional). It prints
// "listening on http://127.0.0.1:PORT" once it serves, and stops on SIGTERM
// or when its standard input closes.
import http from 'node:http';
import Provider from 'oidc-provider';

const AUDIENCE = 'https://api.interop.test';
const SCOPES = 'Entry_Read ContentType_Read';

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const noRedirects = { redirect_uris: [], response_types: [] };
const clients = [
  // The client that gets tokens (RFC 6749 §4.4).
  { client_id: 'interop-client', client_secret: 'interop-client-secret', grant_types: ['client_credentials'], ...noRedirects },
  // warden, the resource server, introspecting with client_secret_basic …
  { client_id: 'warden-rs', client_secret: 'warden-rs-secret', grant_types: [], ...noRedirects },
  // … with client_secret_post …
  {
    client_id: 'warden-rs-post', client_secret: 'warden-rs-post-secret', grant_types: [], ...noRedirects,
    token_endpoint_auth_method: 'client_secret_post',
  },
  // … and asking for signed (RFC 9701) answers.
  {
    client_id: 'warden-rs-signed', client_secret: 'warden-rs-signed-secret', grant_types: [], ...noRedirects,
    introspection_signed_response_alg: 'RS256',
  },
];
if (process.env.WARDEN_RS_JWK) {
  // … or with private_key_jwt (RFC 7523), with the key the test generated.
  clients.push({
    client_id: 'warden-rs-jwt', grant_types: [], ...noRedirects,
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [JSON.parse(process.env.WARDEN_RS_JWK)] },
  });
}

const provider = new Provider(issuer, {
  clients,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    jwtIntrospection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: SCOPES, audience: AUDIENCE, accessTokenFormat: 'opaque' }),
    },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

server.on('request', provider.callback());
console.log(`listening on ${issuer}`);

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
