/** The only names a browser will ever need our certificate for. */
export const SERVER_DNS_NAMES = ['iccert.nhi.gov.tw', 'localhost'] as const;
export const SERVER_IP_ADDRESSES = ['127.0.0.1', '::1'] as const;

/** Under the 825 days Apple and browsers accept for TLS server certificates. */
export const VALIDITY_DAYS = 820;
