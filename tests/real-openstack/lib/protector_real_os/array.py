"""A minimal FlashArray REST 2.x client (requests): API version negotiation, login with the API
token, calls that return the answer's items and raise ArrayError with the array's own messages.
Used by the seed and check steps."""
import requests

API_MAJOR = '2.'
TIMEOUT = (5, 60)


class ArrayError(Exception):
    pass


class FlashArray:
    def __init__(self, address, token, verify=True):
        """address: HOST:PORT (or an https:// URL); verify: True, False or a CA bundle path."""
        address = address[len('https://'):] if address.startswith('https://') else address
        self.base = 'https://%s' % address.rstrip('/')
        self.token = token
        self.verify = verify
        self.http = requests.Session()
        self.version = None
        self.session_token = None

    def _login(self):
        versions = self.http.get(self.base + '/api/api_version', verify=self.verify,
                                 timeout=TIMEOUT)
        versions.raise_for_status()
        twos = [v for v in versions.json().get('version', []) if v.startswith(API_MAJOR)]
        if not twos:
            raise ArrayError('the array at %s serves no REST 2.x API' % self.base)
        self.version = max(twos, key=lambda v: tuple(int(p) for p in v.split('.')))
        reply = self.http.post('%s/api/%s/login' % (self.base, self.version),
                               headers={'api-token': self.token}, verify=self.verify,
                               timeout=TIMEOUT)
        if reply.status_code != 200 or 'x-auth-token' not in reply.headers:
            raise ArrayError('login to %s failed: HTTP %s: %s'
                             % (self.base, reply.status_code, _messages(reply)))
        self.session_token = reply.headers['x-auth-token']

    def call(self, method, path, params=None, body=None, ok=(200,)):
        """The items of the answer; ArrayError unless its status is in ok."""
        if self.session_token is None:
            self._login()
        for attempt in (1, 2):
            reply = self.http.request(
                method, '%s/api/%s/%s' % (self.base, self.version, path), params=params,
                json=body, headers={'x-auth-token': self.session_token},
                verify=self.verify, timeout=TIMEOUT)
            if reply.status_code == 401 and attempt == 1:
                self._login()  # the session expired
                continue
            break
        if reply.status_code not in ok:
            raise ArrayError('%s %s %s: HTTP %s: %s' % (
                method, path, params or '', reply.status_code, _messages(reply)))
        if not reply.content:
            return []
        return reply.json().get('items', [])


def _messages(reply):
    try:
        errors = reply.json().get('errors') or []
        return '; '.join('%s%s' % (e.get('message'), ' (%s)' % e['context']
                                   if e.get('context') else '') for e in errors)
    except ValueError:
        return reply.text[:300]


def from_env(site):
    """The array of SITE (site-a) from the FA_SITE_A_{URL,API_TOKEN,CA_CERT} variables."""
    import os
    prefix = 'FA_%s_' % site.upper().replace('-', '_')
    return FlashArray(os.environ[prefix + 'URL'], os.environ[prefix + 'API_TOKEN'],
                      os.environ.get(prefix + 'CA_CERT') or True)
