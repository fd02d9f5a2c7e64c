// An in-app link: a real <a href> (keyboard, middle-click) that navigates without a reload.
import type { ComponentChildren } from 'preact'
import { navigate } from './router.ts'

export function Link({
  href,
  children,
  current = false,
  class: className,
}: {
  href: string
  children: ComponentChildren
  current?: boolean
  class?: string
}) {
  return (
    <a
      href={href}
      class={className}
      aria-current={current ? 'page' : undefined}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return
        e.preventDefault()
        navigate(href)
      }}
    >
      {children}
    </a>
  )
}
